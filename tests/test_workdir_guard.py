"""A run's work directory: an unusable one stops the run with one line before any stage, and one run at a
time holds it; the lock of a killed run is taken over."""

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import ml_collections
import pytest

from anonjax import main, workdir_guard
from anonjax.errors import DatasetError, OutputError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def stage(monkeypatch):
    """A stage ``evaluate`` that records the work directories it ran in; the config that selects it."""
    ran = []
    module = types.SimpleNamespace(validate=lambda config: None, run=lambda config, workdir: ran.append(workdir))
    monkeypatch.setitem(sys.modules, "anonjax.stages.evaluate", module)
    return ml_collections.ConfigDict({"stages": "evaluate"}), ran


def _unwritable(kind: str, tmp_path: Path) -> Path:
    if kind == "a file":
        path = tmp_path / "results.txt"
        path.write_text("not a directory")
        return path
    if kind == "under a file":
        (tmp_path / "results.txt").write_text("not a directory")
        return tmp_path / "results.txt" / "w"
    if kind == "read-only directory":
        if os.geteuid() == 0:
            pytest.skip("root writes into a read-only directory")
        path = tmp_path / "ro"
        path.mkdir(mode=0o555)
        return path
    return Path(kind)


@pytest.mark.parametrize(("kind", "reason"), [
    ("a file", "is not a directory"),
    ("under a file", "cannot be written: Not a directory"),
    ("read-only directory", "cannot be written: Permission denied"),
    ("/proc/anonjax-workdir", "cannot be written: No such file or directory"),
    ("/proc/self", "cannot be written: No such file or directory"),
])
def test_an_unusable_work_directory_stops_before_any_stage(stage, tmp_path, kind, reason):
    config, ran = stage
    workdir = _unwritable(kind, tmp_path)
    with pytest.raises(DatasetError) as stopped:
        main.run(config, workdir)
    message = str(stopped.value)
    assert message.startswith(f"work directory {workdir} ") and reason in message and "\n" not in message
    assert not ran


def test_the_command_line_says_it_in_one_line(tmp_path):
    workdir = _unwritable("a file", tmp_path)
    result = subprocess.run([sys.executable, "-m", "anonjax.main", "--config=ml_collections_configs/evaluate.py",
                             f"--workdir={workdir}"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (f"error: work directory {workdir} is not a directory: "
                                                       "choose another --workdir")


def _holder(workdir: Path, seconds: float) -> subprocess.Popen:
    """Another process that holds ``workdir``'s lock for ``seconds`` (once it has printed ``held``)."""
    script = textwrap.dedent(f"""
        import time
        from pathlib import Path
        from anonjax.workdir_guard import locked
        with locked(Path({str(workdir)!r})):
            print("held", flush=True)
            time.sleep({seconds})
    """)
    holder = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    return holder


def test_a_second_run_stops_naming_the_lock_and_its_holder_then_takes_over_a_killed_one(stage, tmp_path, caplog):
    config, ran = stage
    workdir = tmp_path / "w"
    workdir.mkdir()
    holder = _holder(workdir, 600)
    try:
        with pytest.raises(OutputError) as stopped:
            main.run(config, workdir)
    finally:
        holder.send_signal(signal.SIGKILL)  # as the OOM killer would: nothing is released by the holder
        holder.wait()
    message = str(stopped.value)
    assert message.startswith(f"work directory {workdir} is in use by the run of pid {holder.pid} on host "
                              f"{socket.gethostname()}, started ") and "\n" not in message
    assert f"(lock file {workdir / '.lock'})" in message and not ran
    caplog.set_level("INFO")
    main.run(config, workdir)
    assert ran == [workdir]
    assert f"of the run of pid {holder.pid} on host" in caplog.text and "taken over" in caplog.text


def test_two_calls_in_one_process_do_not_share_the_lock(stage, tmp_path):
    config, ran = stage
    with workdir_guard.locked(tmp_path), pytest.raises(OutputError, match="is in use by the run of pid"):
        main.run(config, tmp_path)
    main.run(config, tmp_path)  # released
    assert ran == [tmp_path]


def test_a_run_waits_for_the_holder_when_asked(stage, tmp_path):
    config, ran = stage
    holder = _holder(tmp_path, 2)
    start = time.monotonic()
    main.run(config, tmp_path, wait_for_workdir=True)
    assert holder.wait(timeout=60) == 0 and ran == [tmp_path]
    assert time.monotonic() - start > 1


@pytest.fixture
def no_flock(monkeypatch):
    """A file system that refuses ``flock`` (as NFS without a lock daemon does)."""
    def refuse(fd, operation):
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(workdir_guard.fcntl, "flock", refuse)


def test_without_flock_the_holders_process_decides(stage, tmp_path, no_flock):
    config, ran = stage
    lock = tmp_path / workdir_guard.LOCK_FILE
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    try:
        lock.write_text(json.dumps({"pid": alive.pid, "host": socket.gethostname(), "started": time.time()}))
        with pytest.raises(OutputError, match=f"in use by the run of pid {alive.pid} on host"):
            main.run(config, tmp_path)
    finally:
        alive.kill()
        alive.wait()
    lock.write_text(json.dumps({"pid": gone.pid, "host": socket.gethostname(), "started": time.time()}))
    main.run(config, tmp_path)  # the holder is gone: taken over
    with workdir_guard.locked(tmp_path), pytest.raises(OutputError, match=f"pid {os.getpid()} on host"):
        main.run(config, tmp_path)  # a live holder in this very process
    assert ran == [tmp_path] and lock.read_text() == ""  # released


@pytest.mark.slow
def test_the_processes_of_one_run_share_the_main_processs_lock(tmp_path):
    """Two processes of one multi-host run (``jax.distributed`` on localhost): on a free work directory both run
    their stage, the main process holding the lock; on one held by another run both stop, none waits forever."""
    script = textwrap.dedent("""
        import sys, types
        from pathlib import Path
        import ml_collections
        from anonjax import hosts, main

        workdir, port, process = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
        def run(config, workdir):
            hosts.on_main("written", (workdir / "out.txt").write_text, "done")
            assert (workdir / "out.txt").read_text() == "done"
        sys.modules["anonjax.stages.evaluate"] = types.SimpleNamespace(validate=lambda c: None, run=run)
        config = ml_collections.ConfigDict({"stages": "evaluate", "train": {
            "distributed": True, "coordinator_address": f"localhost:{port}", "num_processes": 2,
            "process_id": process}})
        try:
            main.run(config, workdir)
        except Exception as e:
            sys.exit(f"error: {e}")
    """)

    def two_processes(workdir: Path) -> list[tuple[int, str]]:
        with socket.socket() as s:
            s.bind(("localhost", 0))
            port = str(s.getsockname()[1])
        env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=1", "JAX_PLATFORMS": "cpu"}
        runs = [subprocess.Popen([sys.executable, "-c", script, str(workdir), port, str(i)], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for i in range(2)]
        outputs = [r.communicate(timeout=300)[0] for r in runs]
        return [(r.returncode, out) for r, out in zip(runs, outputs, strict=True)]

    free = tmp_path / "free"
    assert [rc for rc, _ in two_processes(free)] == [0, 0]
    assert (free / "out.txt").read_text() == "done"
    held = tmp_path / "held"
    held.mkdir()
    holder = _holder(held, 600)
    try:
        (main_rc, main_out), (other_rc, other_out) = two_processes(held)
    finally:
        holder.kill()
        holder.wait()
    assert main_rc != 0 and f"is in use by the run of pid {holder.pid}" in main_out.strip().splitlines()[-1]
    assert other_rc != 0 and "is in use by another run: see the main process's message" in other_out
    assert not (held / "out.txt").exists()
