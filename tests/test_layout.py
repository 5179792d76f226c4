"""The work directory's names: one place spells them, and every stage takes its paths from it."""

import ast
import importlib
import inspect
from pathlib import Path

import pytest

from anonjax.layout import WorkDir
from anonjax.stages import ORDER


def _spelled_paths(module_name: str) -> list[str]:
    """``path / "literal"`` and ``path / f"..."`` joins in a module's source."""
    source = Path(importlib.import_module(module_name).__file__).read_text()
    return [ast.unparse(node) for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div)
            and isinstance(node.right, ast.Constant | ast.JoinedStr)]


@pytest.mark.parametrize("name", ORDER)
def test_a_stage_spells_no_path(name):
    assert _spelled_paths(f"anonjax.stages.{name}") == []


def _paths(work: WorkDir) -> dict[str, Path]:
    """Every path a WorkDir names, methods called with sample arguments."""
    samples = {"split": "val", "name": "unadapted", "model": "unadapted", "degree": 0.5, "process": 2,
               "view": "mask_100", "number": 1, "canvas": 64, "images": "0123456789abcdef"}
    out = {}
    for attr, member in inspect.getmembers(type(work)):
        if attr.startswith("_") or attr == "root":
            continue
        if isinstance(member, property):
            out[attr] = getattr(work, attr)
        elif callable(member):
            params = list(inspect.signature(member).parameters)[1:]
            out[attr] = getattr(work, attr)(*(samples[p] for p in params))
    return out


def test_workdir_paths_lie_in_the_root_and_relative_names_match(tmp_path):
    absolute, relative = _paths(WorkDir(tmp_path)), _paths(WorkDir(Path()))
    assert absolute.keys() == relative.keys() and len(absolute) > 20
    for attr, path in absolute.items():
        assert not relative[attr].is_absolute(), attr
        assert path == tmp_path / relative[attr], attr
    assert len(set(absolute.values())) == len(absolute)  # no two names share a path
