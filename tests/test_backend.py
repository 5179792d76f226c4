"""Which backend a stage chooses, and the check of a backend argument."""

from types import SimpleNamespace

import jax
import numpy as np
import pytest

from anonjax.backend import check_backend, default_backend
from anonjax.parallel import make_mesh


def test_the_cpus_of_one_process_choose_numpy():
    assert default_backend().backend == "numpy"
    choice = default_backend(make_mesh())
    assert choice.backend == "numpy" and "CPU" in choice.reason


def test_accelerators_and_several_processes_choose_xla(monkeypatch):
    gpus = SimpleNamespace(devices=np.array([SimpleNamespace(platform="gpu")] * 2))
    assert default_backend(gpus) == ("xla", "the devices are gpu")
    monkeypatch.setattr(jax, "process_count", lambda: 2)
    assert default_backend(make_mesh()) == ("xla", "2 processes share the work")


def test_a_backend_is_checked():
    assert check_backend("xla", make_mesh()) == "xla"
    with pytest.raises(ValueError, match=r"backend must be one of \('numpy', 'xla'\), got 'gpu'"):
        check_backend("gpu")
    with pytest.raises(ValueError, match="takes no mesh"):
        check_backend("numpy", make_mesh())
