"""The tiny train step compiles with the real TPU compiler for a v5e:2x2 slice (needs the ``tpu`` extra, libtpu;
skipped without it)."""

import importlib.util
import sys
from pathlib import Path

import pytest

pytest.importorskip("libtpu", reason="libtpu is not installed: pip install -e .[tpu]")

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "plan_memory.py"


def test_tiny_train_step_compiles_for_v5e_2x2(capsys):
    spec = importlib.util.spec_from_file_location("plan_memory_tpu", SCRIPT)
    plan_memory = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = plan_memory  # its dataclass looks the module up
    spec.loader.exec_module(plan_memory)
    plans = plan_memory.main(["--platform", "tpu", "--topology", "v5e:2x2", "--preset", "tiny", "--batch", "16",
                              "--fsdp", "2", "--remat", "off", "--micro-batch", "auto"])
    out = capsys.readouterr().out
    assert "v5e:2x2 (TPU v5 lite" in out
    plan = plans[-1]
    assert plan.devices == 4 and plan.micro_batch == 16  # the tiny step fits a chip whole
    assert 0 < plan.peak_bytes < 0.9 * plan_memory.HBM_BYTES["TPU v5 lite"]
    assert plan.argument_bytes > 0
