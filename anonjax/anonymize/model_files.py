"""What a detector ran with: package versions and model files with their SHA-256, for reports."""

from __future__ import annotations

import functools
import hashlib
from importlib import metadata
from pathlib import Path


def package_version(name: str) -> str:
    """Installed version of distribution ``name``, or "not installed"."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


@functools.cache
def sha256(path: str) -> str:
    """SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_record(path: str | Path) -> dict:
    """File name, full path and SHA-256 of a model file."""
    path = Path(path)
    return {"file": path.name, "path": str(path), "sha256": sha256(str(path))}
