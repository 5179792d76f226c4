"""Atomic file writes: a reader sees the old file or the whole new one, never half of it.

On a local file system a file is written under a temporary name beside its target, then renamed onto it. On an
object store (a URL, ``anonjax.paths``) there is no rename: the file is written locally, then uploaded as one
object, which appears whole or not at all. Either way a stage's outputs count only once its done marker, written
last, exists (``anonjax.fingerprint``)."""

from __future__ import annotations

import contextlib
import csv
import errno
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from anonjax.errors import OutputError
from anonjax.paths import as_path, copy_file, is_local

# Errors of the storage rather than of the data: whatever code raised them, they say a write failed.
_NO_ROOM = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
STORAGE_ERRNOS = _NO_ROOM | {errno.EROFS}


def _proc_umask() -> int | None:
    """The umask from ``/proc/self/status`` (Linux 4.7+), read without changing it; None where unavailable."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    return None


def _umask_once() -> int:
    """The umask at import. Without /proc it can only be read by setting it, which changes it for every
    thread for a moment, so that is done once, here."""
    umask = _proc_umask()
    if umask is None:
        umask = os.umask(0o077)
        os.umask(umask)
    return umask


_UMASK_AT_IMPORT = _umask_once()


def new_file_mode() -> int:
    """The mode ``open()`` gives a new file, 0o666 less the umask (read now where /proc allows)."""
    umask = _proc_umask()
    return 0o666 & ~(_UMASK_AT_IMPORT if umask is None else umask)


def write_error(path: str | os.PathLike, error: OSError) -> OutputError:
    """The one-line error for a failed write of ``path``: the file, the system's reason and what to do."""
    reason = error.strerror or str(error)
    todo = ("free space on its file system (or raise the quota) and rerun" if error.errno in _NO_ROOM
            else "make it writable or choose another work directory, and rerun")
    return OutputError(f"cannot write {path}: {reason}; {todo}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary local path; the file written there appears at ``path`` only if the block succeeds.

    Locally the temporary file lies beside ``path`` and is renamed onto it; it gets the mode of a plain
    ``open()`` rather than ``mkstemp``'s 0o600, so that others sharing a work directory can read the outputs as
    the umask allows, and keeps only the first 64 bytes of the name, so any name that fits the file system has
    one that fits. For a URL it is uploaded to ``path`` in one write. A failure to create, fill, rename or upload
    the file for lack of space or a read-only file system raises :func:`write_error`'s ``OutputError``."""
    if not is_local(path):
        with _uploaded(as_path(path)) as tmp:
            yield tmp
        return
    path = Path(path)
    stem = os.fsencode(path.name)[:64].decode(errors="ignore")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise write_error(path, e) from e
    os.close(fd)
    tmp = Path(tmp)
    try:
        tmp.chmod(new_file_mode())
        yield tmp
        os.replace(tmp, path)
    except OSError as e:
        if e.errno in STORAGE_ERRNOS:
            raise write_error(path, e) from e
        raise
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _uploaded(url: os.PathLike) -> Iterator[Path]:
    """A local temporary file, uploaded to ``url`` when the block succeeds."""
    with tempfile.TemporaryDirectory(prefix="anonjax-upload-") as folder:
        tmp = Path(folder) / as_path(url).name
        yield tmp
        try:
            copy_file(tmp, url)
        except OSError as e:
            raise write_error(url, e) from e


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO]:
    """``open`` for writing whose result appears at ``path`` only when the block succeeds."""
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as f:
        yield f


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write one ``.npy`` array atomically."""
    with atomic_open(path, "wb") as f:
        np.save(f, np.asarray(array))


def save_json(path: str | os.PathLike, obj: Any) -> None:
    """Write JSON atomically, keys sorted, human-readable."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=_json_default)
        f.write("\n")


def csv_text(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """Rows as CSV text with a header of ``columns`` (other keys are left out, None is an empty cell)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def save_text(path: str | os.PathLike, text: str) -> None:
    """Write a UTF-8 text file atomically."""
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(text)


def sha256_file(path: str | os.PathLike) -> str:
    """SHA-256 of a file's bytes, hex, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with as_path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")
