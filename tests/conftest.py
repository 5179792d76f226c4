"""Test session set-up, before jax is imported: 8 simulated CPU devices so that sharded code runs on one
machine, a faster, less optimizing XLA compile, and a persistent compilation cache (tests are dominated by
compile time, not run time).

The cache lives in ``.jax_cache/`` at the repository root, or in ``$ANONJAX_TEST_CACHE`` (empty: no cache).
Every program is kept, however quick its compile, so a program compiled by one test file, pytest-xdist
worker, subprocess or earlier run is loaded, not compiled again. The settings are environment variables, so
the processes a test starts inherit them. Entries are never evicted (delete the folder to clear it): with a
size limit JAX would lock the folder and list every entry at each write, about 0.7 s a write at the 740 entries
of one run here. Without the lock, a worker that reads an entry while another writes it fails to decompress
it, which JAX reports as a warning and answers by compiling.

The ``in_process`` fixture runs the command line in the test's process, for the cases that stop before work.
"""

import dataclasses
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault(
    "XLA_FLAGS",
    "--xla_force_host_platform_device_count=8 --xla_backend_optimization_level=0 "
    "--xla_llvm_disable_expensive_passes=true",
)
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

_CACHE = os.environ.setdefault("ANONJAX_TEST_CACHE", str(Path(__file__).resolve().parents[1] / ".jax_cache"))
if _CACHE:
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", _CACHE)
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "-1")


@dataclasses.dataclass
class Exit:
    returncode: int
    stderr: str


@pytest.fixture
def in_process(capsys, monkeypatch):
    """``in_process(*args, workdir=...)`` runs ``main.main`` as ``python -m anonjax.main`` would, from the
    repository root; returns its exit status and what it wrote to stderr, the message of ``sys.exit`` included.
    The flags it parsed, and the config overrides ml_collections registered, are removed after."""
    from absl import flags

    from anonjax import main

    monkeypatch.chdir(Path(__file__).resolve().parents[1])

    def run(*args, workdir) -> Exit:
        argv = ["anonjax.main", *args, f"--workdir={workdir}"]
        monkeypatch.setattr(sys, "argv", argv)  # ml_collections reads the config overrides from sys.argv
        try:
            main.main(argv)
            code = 0
        except SystemExit as e:
            code = e.code
        finally:
            for name in [n for n in flags.FLAGS if n.startswith("config.")]:
                delattr(flags.FLAGS, name)
            flags.FLAGS.unparse_flags()
        stderr = capsys.readouterr().err
        if isinstance(code, str):  # the interpreter prints the message and exits with 1
            return Exit(1, f"{stderr}{code}\n")
        return Exit(code or 0, stderr)

    return run
