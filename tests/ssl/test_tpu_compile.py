"""The tiny study's programs compile with the real TPU compiler for a v5e:2x2 slice (needs the ``tpu`` extra,
libtpu; skipped without it)."""

from pathlib import Path

import pytest

from scripts import plan_memory

pytest.importorskip("libtpu", reason="libtpu is not installed: pip install -e .[tpu]")

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


def test_the_demos_embed_and_evaluate_programs_compile_for_v5e_2x2(capsys):
    embed, truth, scenario = plan_memory.main(["--platform", "tpu", "--topology", "v5e:2x2", "--study", str(DEMO),
                                               "--programs", "embed", "evaluate", "--database", "4000"])
    out = capsys.readouterr().out
    assert [p.program for p in (embed, truth, scenario)] == ["embed", "evaluate ground truth", "evaluate scenario"]
    assert embed.items % 4 == 0 and truth.items % 4 == 0 and "v5e:2x2: evaluate scenario" in out
    for plan in (embed, truth, scenario):
        assert 0 < plan.peak_bytes < 0.9 * plan_memory.HBM_BYTES["TPU v5 lite"] and plan.flops > 0
