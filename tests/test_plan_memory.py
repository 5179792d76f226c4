"""scripts/plan_memory.py on the tiny preset and the 8 simulated devices of the test session: every
configuration gets positive memory and FLOPs, and fsdp splits the parameters over devices."""

import importlib.util
import json
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "plan_memory.py"


def load_script():
    spec = importlib.util.spec_from_file_location("plan_memory", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks the module up
    spec.loader.exec_module(module)
    return module


def test_plan_memory_tiny(capsys):
    plan_memory = load_script()
    plans = plan_memory.main(["--preset", "tiny", "--devices", "8", "--batch", "16", "--fsdp", "1", "2",
                              "--remat", "off", "--jobs", "2", "--json"])
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(p.fsdp, p.batch, p.remat) for p in plans] == [(1, 16, False), (2, 16, False)]
    assert rows == [p.row() for p in plans]
    for plan in plans:
        assert plan.devices == 8 and plan.model == "vit_tiny16"
        assert plan.argument_bytes > 0 and plan.temp_bytes > 0 and plan.peak_bytes > plan.argument_bytes
        assert plan.flops > 0 and plan.flops_per_image == plan.flops * 8 / 16
    unsharded, sharded = plans
    assert sharded.argument_bytes < unsharded.argument_bytes  # parameters and optimizer state split in two
