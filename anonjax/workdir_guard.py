"""A run's claim on its work directory: checked writable before any stage starts, and locked for the whole
run, so that two runs never write into one work directory at once (their outputs would mix, and the last
done marker would vouch for both).

The lock is ``<workdir>/.lock``, held with ``fcntl.flock``: the kernel releases it when its holder ends, even
when killed, so the lock of a killed run is simply taken over. Where ``flock`` is unavailable (no ``fcntl``, or
a file system that refuses it) the holder written in the file decides: a lock whose process is gone from this
host is taken over. The file names its holder (pid, host, start time) for the message a second run shows.

On an object store (a URL work directory) nothing can hold a lock, and whether a holder on another host is still
running cannot be known. There ``.lock`` is an object naming its holder, written at the start of a run and
deleted at its end: a run that finds one stops (or with ``wait`` waits for it to go), and after a run that was
killed the object stays until a person deletes it, as the message says. Two runs that start within the same
moment may both write it; each reads it back and the one whose holder it does not name stops.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from etils import epath

from anonjax import hosts
from anonjax.errors import OutputError
from anonjax.paths import as_path, is_local

try:
    import fcntl
except ImportError:  # not POSIX
    fcntl = None

LOCK_FILE = ".lock"
_POLL_S = 1.0  # how often a waiting run looks again where flock is unavailable
_NO_FLOCK = frozenset({errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL})

log = logging.getLogger(__name__)


def check_writable(workdir: str | os.PathLike) -> None:
    """Create ``workdir`` if needed and check that a file can be written in it; an ``OutputError`` naming the
    path and the reason otherwise."""
    workdir = as_path(workdir)
    try:
        if workdir.exists() and not workdir.is_dir():
            raise OutputError(f"work directory {workdir} is not a directory: choose another --workdir")
        workdir.mkdir(parents=True, exist_ok=True)
        if is_local(workdir):
            with tempfile.TemporaryFile(dir=workdir):
                pass
        else:
            probe = workdir / f".probe-{uuid.uuid4().hex}"
            probe.write_bytes(b"")
            probe.unlink()
    except OSError as e:
        raise OutputError(f"work directory {workdir} cannot be written: {e.strerror or e}; make it writable "
                          "or choose another --workdir") from None


@contextlib.contextmanager
def claimed(workdir: str | os.PathLike, *, wait: bool = False) -> Iterator[None]:
    """Check ``workdir`` and hold its lock for the block, in the main process of the run (``anonjax.hosts``);
    the other processes of a multi-host run share its claim. When another run holds the lock, every process
    stops with an ``OutputError`` naming the lock file and its holder, or with ``wait`` waits for it."""
    check_writable(workdir)
    with contextlib.ExitStack() as stack:
        refused = None
        if hosts.is_main():
            try:
                lock = locked if is_local(workdir) else object_locked
                stack.enter_context(lock(as_path(workdir), wait=wait))
            except OutputError as e:
                refused = e
        if not hosts.main_value(refused is None):
            raise refused or OutputError(f"work directory {workdir} is in use by another run: see the main "
                                         "process's message")
        yield


@contextlib.contextmanager
def locked(workdir: Path, *, wait: bool = False) -> Iterator[None]:
    """Hold ``workdir``'s lock for the block (one process); see the module's description."""
    path = workdir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as e:
        raise OutputError(f"cannot create the lock file {path}: {e.strerror or e}; make the work directory "
                          "writable or choose another --workdir") from None
    try:
        while not _acquire(fd, path, wait):
            time.sleep(_POLL_S)
        if left := _holder(fd):
            log.info("work directory lock %s of %s was not released (that run was killed); taken over",
                     path, _describe(left))
        _write_holder(fd)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)  # no holder: a run where flock is unavailable may take it
    finally:
        os.close(fd)  # releases the flock


@contextlib.contextmanager
def object_locked(workdir: epath.Path, *, wait: bool = False) -> Iterator[None]:
    """Hold the lock object of a work directory on an object store for the block; see the module's description."""
    path = workdir / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), "id": uuid.uuid4().hex}
    while (holder := _object_holder(path)) is not None:
        if not wait:
            raise _busy(path, holder, stale=True)
        log.warning("waiting for %s to release the work directory (lock object %s)", _describe(holder), path)
        time.sleep(_POLL_S)
    try:
        path.write_text(json.dumps(me))
        if (_object_holder(path) or {}).get("id") != me["id"]:  # another run wrote it in the same moment
            raise _busy(path, _object_holder(path), stale=True)
    except OSError as e:
        raise OutputError(f"cannot write the lock object {path}: {e.strerror or e}; make the work directory "
                          "writable or choose another --workdir") from None
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _object_holder(path: epath.Path) -> dict | None:
    """The holder a lock object names; None when there is no lock object (an unreadable one names no holder)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return {}
    try:
        holder = json.loads(text)
    except ValueError:
        return {}
    return holder if isinstance(holder, dict) else {}


def _acquire(fd: int, path: Path, wait: bool) -> bool:
    """Take the lock on ``fd``: True when taken, False to look again (waiting where flock is unavailable);
    an ``OutputError`` naming the holder when it is held and ``wait`` is False."""
    if fcntl is not None:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if not wait:
                raise _busy(path, _holder(fd)) from None
            log.warning("waiting for %s to release the work directory (lock file %s)", _describe(_holder(fd)), path)
            fcntl.flock(fd, fcntl.LOCK_EX)
            return True
        except OSError as e:
            if e.errno not in _NO_FLOCK:
                raise
    holder = _holder(fd)
    if holder is None or not _alive(holder):
        return True
    if not wait:
        raise _busy(path, holder)
    return False


def _busy(path: Path | epath.Path, holder: dict | None, *, stale: bool = False) -> OutputError:
    """The one line a run shows when the work directory is held; with ``stale`` (an object store, where a killed
    holder is not detected) it also says how to free the work directory of a run that was killed."""
    todo = "wait for it to end, run with --wait_for_workdir, or choose another --workdir"
    if stale:
        todo += f"; if that run was killed, delete {path} and rerun"
    return OutputError(f"work directory {path.parent} is in use by {_describe(holder)} (lock file {path}): {todo}")


def _describe(holder: dict | None) -> str:
    if not holder:
        return "another run"
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(holder.get("started", 0)))
    return f"the run of pid {holder.get('pid')} on host {holder.get('host')}, started {started}"


def _holder(fd: int) -> dict | None:
    """The holder written in the lock file; None when it is empty or unreadable."""
    try:
        holder = json.loads(os.pread(fd, 4096, 0).decode("utf-8"))
    except (OSError, ValueError):
        return None
    return holder if isinstance(holder, dict) else None


def _write_holder(fd: int) -> None:
    data = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": time.time()}).encode()
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def _alive(holder: dict) -> bool:
    """Whether the holder's process runs; one on another host is taken to run (it cannot be checked)."""
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname():
        return True
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True
