"""scripts/device_check.py on the CPU: ``--tiny`` prints one JSON object with every part measured or skipped with
a reason, and the attention-path tests passed; the train part's batch search takes the largest batch that fits.

The check runs its parts in child processes that inherit this session's environment (tests/conftest.py:
8 CPU devices, a fast XLA compile). One compile of the tiny train step alone takes 20 to 40 s here, so
the ``--tiny`` run gives the train part a 4 s budget: that checks that a part running past its budget is
stopped with the reason and the JSON still comes out; the batch search is checked with a stand-in for the
compiled step.
"""

import importlib.util
import json
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "device_check.py"
GIB = 2**30


@pytest.fixture(scope="module")
def device_check():
    spec = importlib.util.spec_from_file_location("device_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _measured(entry: dict, keys: tuple[str, ...]) -> bool:
    """True when ``entry`` holds positive ``keys``; False when it names why it was skipped."""
    if "skipped" in entry:
        assert isinstance(entry["skipped"], str) and entry["skipped"], entry
        return False
    for key in keys:
        assert entry[key] > 0, (key, entry)
    return True


def test_peak_table_by_device_kind(device_check):
    assert device_check.peak_bf16("NVIDIA H100 80GB HBM3") == 989e12
    assert device_check.peak_bf16("NVIDIA H100 PCIe") == 756e12
    assert device_check.peak_bf16("NVIDIA H200") == 989e12
    assert device_check.peak_bf16("NVIDIA A100-SXM4-80GB") == 312e12
    assert device_check.peak_bf16("NVIDIA L4") == 121e12
    assert device_check.peak_bf16("NVIDIA L40S") == 362e12
    assert device_check.peak_bf16("cpu") is None


@pytest.mark.slow
def test_tiny_run_reports_every_part(device_check, capsys):
    report = device_check.main(["--tiny", "--budgets", "train=4"])
    assert json.loads(capsys.readouterr().out) == report  # the one JSON object on stdout

    assert list(report["parts"]) == list(device_check.PARTS)
    assert report["jax_version"] and report["device"]["platform"] == "cpu" and report["device"]["count"] == 8
    assert report["device"]["peak_bf16_flops_per_s"] is None and "cpu" in report["device"]["peak_note"]
    parts = report["parts"]
    assert all(entry["wall_s"] >= 0 for entry in parts.values())

    tests = parts["tests"]
    assert tests["ok"] and tests["passed"] >= 3 and tests["failed"] == tests["errors"] == 0, tests
    assert "test_attention_paths.py" in tests["command"]

    embed = parts["embed"]
    assert _measured(embed, ("images_per_s", "batch_s", "flops_per_batch", "tflops_per_s"))
    assert embed["model"] == "vit_tiny14" and embed["attention"] == "per_image" and embed["mfu"] is None

    topk = parts["topk"]
    assert _measured(topk, ("queries_per_s", "seconds", "first_chunk_s"))
    assert topk["rows_sorted"] and topk["chunks"] > 1

    anonymize = parts["anonymize"]
    for method in ("pixel", "blur", "mask"):
        assert _measured(anonymize[method], ("images_per_s", "batch_s"))

    train = parts["train"]
    assert train["stopped"] == "ran past its time budget of 4 s" and train["wall_s"] < 10
    assert not _measured(train["remat_off"], ()) and not _measured(train["remat_on"], ())


@pytest.mark.slow
def test_train_search_takes_the_largest_batch_that_fits(device_check, monkeypatch):
    """80 GiB free, 1 GiB per image as compiled at the smallest batch (16, run first): 128 and 100 are predicted
    not to fit, 64 needs more than predicted (or runs out of memory when run), 32 is measured."""
    calls, shown = [], []

    def once(args, mesh, batch, remat, peak, available, oom=False):
        calls.append(batch)
        if batch == 64 and oom:
            raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 70.0GiB")
        needed = (90 if batch == 64 else batch) * GIB
        out = {"batch": batch, "compile_s": 1.0, "needed_bytes": needed, "state_bytes": 0}
        if needed > available:
            return {**out, "fits": False}
        return {**out, "fits": True, "step_s": 0.5, "images_per_s": batch / 0.5, "mfu": None}

    monkeypatch.setattr(device_check, "_device_memory", lambda: 80 * GIB)
    mesh = SimpleNamespace(size=2)
    for oom, why in ((False, "does not fit: needs 90.0 GiB of 80.0 GiB"), (True, "out of memory: RuntimeError")):
        calls.clear()
        monkeypatch.setattr(device_check, "_train_once", lambda *a, oom=oom: once(*a, oom=oom))
        out = device_check._train_setting(None, mesh, False, [8, 64, 50, 32, 16], time.time() + 60, None,
                                          lambda r: shown.append(r["batch"]))
        assert calls == [16, 64, 32]
        assert out["batch"] == 32 and out["images_per_s"] == 64
        assert [t["batch"] for t in out["tries"]] == [128, 100, 64]
        assert out["tries"][0]["result"] == "skipped: predicted to need 128.0 GiB of 80.0 GiB"
        assert out["tries"][2]["result"].startswith(why)
    assert shown == [16, 32, 16, 32]

    calls.clear()
    late = device_check._train_setting(None, mesh, False, [8, 16], time.time() - 1, None)
    assert late["skipped"] == "the smallest batch (16) did not run" and calls == []
    assert late["tries"] == [{"batch": 16, "result": "skipped: not enough of the time budget left"}]
    assert device_check._train_setting(None, mesh, False, [], time.time() + 60, None) == {
        "skipped": "no batch sizes given"
    }

    def broken(args, mesh, batch, remat, peak, available):
        if remat:
            raise ValueError("koleo groups do not divide the batch")
        return once(args, mesh, batch, remat, peak, available)

    monkeypatch.setattr(device_check, "_train_once", broken)
    args = device_check.parse_args(["--tiny", "--train-batches", "4,2", "--train-batches-remat", "4"])
    emitted = []
    out = device_check.part_train(args, time.time() + 60, lambda r: emitted.append(json.loads(json.dumps(r))))
    assert out["remat_off"]["batch"] == 4 * out["devices"] and out["remat_off"]["tries"] == []
    assert out["remat_on"] == {"skipped": "ValueError: koleo groups do not divide the batch"}
    # What a part stopped on its time budget keeps: nothing yet, then the smallest batch's result.
    assert emitted[0]["remat_off"] == {"skipped": device_check.UNFINISHED}
    assert emitted[1]["remat_off"]["batch"] == 2 * out["devices"]
    assert emitted[1]["remat_off"]["stopped"] == device_check.LARGER_UNFINISHED
