"""Atomic writes: outputs get the mode a plain ``open()`` gives, and a failed write leaves nothing behind."""

import errno
import os
import stat

import numpy as np
import pytest

from anonjax import files
from anonjax.errors import OutputError


@pytest.fixture
def umask():
    """``umask(value)`` sets the process umask for the test; the old one is restored afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.parametrize(("mask", "expected"), [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_outputs_follow_the_umask(tmp_path, umask, mask, expected):
    umask(mask)
    files.save_text(tmp_path / "a.txt", "a\n")
    files.save_json(tmp_path / "b.json", {"b": 1})
    with open(tmp_path / "plain.txt", "w") as f:
        f.write("plain\n")
    assert mode(tmp_path / "a.txt") == mode(tmp_path / "b.json") == mode(tmp_path / "plain.txt") == expected


def test_umask_read_once_where_proc_cannot_tell(tmp_path, monkeypatch):
    monkeypatch.setattr(files, "_proc_umask", lambda: None)
    monkeypatch.setattr(files, "_UMASK_AT_IMPORT", 0o027)
    files.save_text(tmp_path / "a.txt", "a\n")
    assert mode(tmp_path / "a.txt") == 0o640


def test_failed_block_leaves_no_file_and_no_temporary(tmp_path):
    with pytest.raises(RuntimeError, match="boom"), files.atomic_open(tmp_path / "out.txt") as f:
        f.write("half")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_failed_block_keeps_the_old_file(tmp_path):
    files.save_text(tmp_path / "out.txt", "old\n")
    with pytest.raises(RuntimeError), files.atomic_path(tmp_path / "out.txt") as tmp:
        tmp.write_text("new\n")
        raise RuntimeError
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    assert (tmp_path / "out.txt").read_text() == "old\n"


@pytest.mark.parametrize(("code", "todo"), [
    (errno.ENOSPC, "free space on its file system (or raise the quota) and rerun"),
    (errno.EDQUOT, "free space on its file system (or raise the quota) and rerun"),
    (errno.EROFS, "make it writable or choose another work directory, and rerun"),
])
def test_a_full_or_read_only_file_system_is_one_line_naming_the_file(tmp_path, monkeypatch, code, todo):
    def refuse(src, dst):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(files.os, "replace", refuse)
    with pytest.raises(OutputError) as stopped:
        files.save_npy(tmp_path / "val.npy", np.zeros(3, np.float32))
    assert str(stopped.value) == f"cannot write {tmp_path / 'val.npy'}: {os.strerror(code)}; {todo}"
    assert list(tmp_path.iterdir()) == []


def test_a_long_name_that_fits_has_a_temporary_name_that_fits(tmp_path):
    name = "案" * 80 + ".json"  # 245 bytes
    files.save_json(tmp_path / name, {"a": 1})
    assert [p.name for p in tmp_path.iterdir()] == [name]
