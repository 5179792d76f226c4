"""The stages stand side by side: none imports another (they share the study plan and the libraries)."""

import ast
import importlib
from pathlib import Path

import pytest

from anonjax.stages import ORDER


@pytest.mark.parametrize("name", ORDER)
def test_a_stage_imports_no_other_stage(name):
    tree = ast.parse(Path(importlib.import_module(f"anonjax.stages.{name}").__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert {m for m in imported if m.startswith("anonjax.stages")} == set()
