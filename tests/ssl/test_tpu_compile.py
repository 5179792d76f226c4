"""The tiny study's programs compile with the real TPU compiler for v5e and v4 slices (needs the ``tpu`` extra,
libtpu, 684 MB installed; skipped without it, as in CI, which leaves the extra out to keep within its time)."""

from pathlib import Path

import pytest

from scripts import plan_memory

pytest.importorskip("libtpu", reason="libtpu is not installed: pip install -e .[tpu] "
                    "(CI leaves the extra out: 684 MB and a minute of compiles)")

DEMO = Path(__file__).resolve().parents[2] / "ml_collections_configs" / "demo.py"


def test_tiny_train_step_compiles_for_v5e_2x2(capsys):
    plans = plan_memory.main(["--platform", "tpu", "--topology", "v5e:2x2", "--preset", "tiny", "--batch", "16",
                              "--fsdp", "2", "--remat", "off", "--micro-batch", "auto", "--programs", "train"])
    out = capsys.readouterr().out
    assert "v5e:2x2 (TPU v5 lite" in out
    plan = plans[-1]
    assert plan.devices == 4 and plan.micro_batch == 16  # the tiny step fits a chip whole
    assert 0 < plan.peak_bytes < 0.9 * plan_memory.HBM_BYTES["TPU v5 lite"]
    assert plan.argument_bytes > 0


def test_a_v4_slice_is_planned_as_one_device_per_chip(capsys):
    devices = plan_memory.tpu_devices("v4:2x2x1")
    assert len(devices) == 4 and {d.core_on_chip for d in devices} == {0}  # megacore: 4 chips of 2 cores each
    assert len({tuple(d.coords) for d in devices}) == 4
    (plan,) = plan_memory.main(["--platform", "tpu", "--topology", "v4:2x2x1", "--preset", "tiny", "--batch", "16",
                                "--fsdp", "1", "--remat", "off", "--programs", "train"])
    assert "v4:2x2x1 (TPU v4, 32.00 GiB/chip)" in capsys.readouterr().out
    assert plan.devices == 4 and 0 < plan.peak_bytes < 0.9 * plan_memory.HBM_BYTES["TPU v4"]


def test_the_demos_embed_and_evaluate_programs_compile_for_v5e_2x2(capsys):
    embed, truth, scenario = plan_memory.main(["--platform", "tpu", "--topology", "v5e:2x2", "--study", str(DEMO),
                                               "--programs", "embed", "evaluate", "--database", "4000"])
    out = capsys.readouterr().out
    assert [p.program for p in (embed, truth, scenario)] == ["embed", "evaluate ground truth", "evaluate scenario"]
    assert embed.items % 4 == 0 and truth.items % 4 == 0 and "v5e:2x2: evaluate scenario" in out
    for plan in (embed, truth, scenario):
        assert 0 < plan.peak_bytes < 0.9 * plan_memory.HBM_BYTES["TPU v5 lite"] and plan.flops > 0
