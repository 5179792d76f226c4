"""What a detector ran with: package versions and model files with their SHA-256, for reports."""

from __future__ import annotations

import functools
from importlib import metadata
from pathlib import Path

from anonjax.files import sha256_file


def package_version(name: str) -> str:
    """Installed version of distribution ``name``, or "not installed"."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


sha256 = functools.cache(sha256_file)


def model_record(path: str | Path) -> dict:
    """File name, full path and SHA-256 of a model file."""
    path = Path(path)
    return {"file": path.name, "path": str(path), "sha256": sha256(str(path))}
