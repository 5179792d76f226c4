"""scripts/plan_memory.py on the tiny preset and the 8 simulated devices of the test session: every
configuration gets positive memory and FLOPs, fsdp splits the parameters over devices, and more devices
sharing a batch add no work."""

import json

import jax
import pytest

from scripts import plan_memory

pytestmark = pytest.mark.slow  # the inner loop (-m 'not slow') skips this file


def test_plan_memory_tiny(capsys):
    plans = plan_memory.main(["--preset", "tiny", "--devices", "8", "--batch", "16", "--fsdp", "2",
                              "--remat", "off", "--json"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(p.fsdp, p.batch, p.remat) for p in plans] == [(2, 16, False)]
    assert rows == [p.row() for p in plans]

    def config(batch):  # stochastic depth on batch subsets (rate above 0.1), one group of images per device
        c = plan_memory.train_config("tiny", None, batch, 1, False)
        c.drop_path_rate, c.group_size = 0.4, 2
        return c

    shared = plan_memory.measure(config(16))
    alone = plan_memory.measure(config(2), jax.devices()[:1])
    sharded = plans[0]
    for plan in (sharded, shared):
        assert plan.devices == 8 and plan.model == "vit_tiny16"
        assert plan.argument_bytes > 0 and plan.temp_bytes > 0 and plan.peak_bytes > plan.argument_bytes
        assert plan.flops > 0 and plan.flops_per_image == plan.flops * 8 / 16
    assert sharded.argument_bytes < shared.argument_bytes  # parameters and optimizer state split in two
    # Drop path and the masked-patch buffer stay within each device's groups: a device of 8 sharing a batch of
    # 16 computes what one device does with its 2 images.
    assert alone.devices == 1
    assert abs(shared.flops / alone.flops - 1) < 0.03, (shared.flops, alone.flops)
