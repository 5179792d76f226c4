"""Paths that may be URLs: a work directory, a data root or a checkpoint on an object store (``gs://``, ``s3://``).

Every path anonjax reads or writes is an ``etils.epath`` path, the path library orbax, grain and TFDS share, so
that ``gs://bucket/run`` stays a URL; a ``pathlib.Path`` would collapse it into a local folder ``gs:/bucket/run``.
A URL's scheme is served by TensorFlow's file system or by an fsspec implementation (``gcsfs`` for ``gs://``);
:func:`missing_package` says what a URL needs; ``config_checks.check_servable`` stops a run whose path no
installed package can serve, naming the config key.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from etils import epath

SCHEMES = {"gs": "gcsfs", "s3": "s3fs", "az": "adlfs", "hf": "huggingface_hub"}
"""The URL schemes ``etils.epath`` knows, and the fsspec package that serves each."""


def as_path(value: str | os.PathLike) -> epath.Path:
    """``value`` as an epath path: a URL stays a URL, ``~`` is expanded on a local path."""
    path = epath.Path(value)
    return path.expanduser() if scheme(path) is None else path


def scheme(path: str | os.PathLike) -> str | None:
    """The URL scheme of ``path`` (``"gs"`` for ``gs://bucket/x``); None for a local path."""
    text = os.fspath(path)
    head, sep, _ = text.partition("://")
    return head if sep and head.isidentifier() else None


def is_local(path: str | os.PathLike) -> bool:
    """Whether ``path`` is on a local (POSIX) file system rather than an object store."""
    return scheme(path) is None


def on_local_disk(path: str | os.PathLike) -> Path:
    """``path`` where it is local; for a URL, the folder of the same name under ``$ANONJAX_CACHE/objects``
    (``gs://bucket/run/x`` -> ``objects/gs/bucket/run/x``): where files that must sit on a local disk, such as
    memory maps, are kept for an object-store path."""
    if is_local(path):
        return Path(as_path(path))
    from anonjax.downloads import cache_root

    head, _, rest = os.fspath(path).partition("://")
    return cache_root() / "objects" / head / rest.strip("/")


def missing_package(path: str | os.PathLike) -> str | None:
    """What to install to read and write ``path``: None for a local path or a URL an installed package serves
    (TensorFlow's file system serves every scheme; otherwise fsspec's implementation of it, e.g. ``gcsfs``)."""
    name = scheme(path)
    if name is None:
        return None
    if name not in SCHEMES:
        return f"nothing: {name}:// is not supported (use a local path or {', '.join(s + '://' for s in SCHEMES)})"
    import fsspec

    try:
        fsspec.get_filesystem_class(name)
        return None
    except (ImportError, ValueError):
        pass
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        return f"pip install {SCHEMES[name]} (or tensorflow)"
    return None


def copy_file(source: str | os.PathLike, target: str | os.PathLike) -> None:
    """Copy a file's bytes, each side local or a URL (one upload to an object store: the object appears whole)."""
    with as_path(source).open("rb") as src, as_path(target).open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
