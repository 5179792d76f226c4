"""The evaluate stage on the built-in embedding set and on a user's directory, and the report rendered from its
results alone."""

import csv
import json
import os
import re
import shutil
from pathlib import Path

import ml_collections
import numpy as np
import pytest

from anonjax import layout
from anonjax.config_checks import ConfigError
from anonjax.errors import DatasetError
from anonjax.main import load_config, run
from anonjax.retrieval import evaluate_scenario
from anonjax.stages import evaluate, report
from anonjax.synthetic_embeddings import write_synthetic_embeddings

pytestmark = pytest.mark.slow  # the inner loop (-m 'not slow') skips this file


CONFIG = Path(__file__).resolve().parents[2] / "ml_collections_configs" / "evaluate.py"


def _config(embeddings="builtin", degrees=(1.0,), methods=("pixel", "mask")):
    config = load_config(CONFIG)
    config.evaluate.embeddings = embeddings
    config.evaluate.n_bootstrap = 50
    config.grid.degrees = degrees
    config.grid.methods = methods
    return config


@pytest.fixture(scope="module")
def builtin_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("evaluate")
    run(_config(), workdir)
    return workdir


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_scenarios_csv_contract(builtin_run):
    rows = _rows(builtin_run / "results" / "scenarios.csv")
    # 5 models (Unadapted, control, A, B, C) x 2 methods x 1 degree x 2 query kinds, and one row without
    # anonymization for each of the 8 trained models (Unadapted, control, A/B/C x pixel/mask).
    anonymized = [r for r in rows if r["method"] != "none"]
    none_rows = {r["model_name"]: r for r in rows if r["method"] == "none"}
    assert len(anonymized) == 20 and len(none_rows) == 8
    assert {r["model"] for r in anonymized} == {"unadapted", "control", "A", "B", "C"}
    assert {r["queries"] for r in anonymized} == {"original", "anonymized"}
    for r in anonymized:
        for key in ("map", "mndcg", "linkage", "map_chance", "mndcg_chance"):
            assert 0.0 <= float(r[key]) <= 1.0
        assert float(r["map_low"]) <= float(r["map"]) <= float(r["map_high"])
        assert float(r["map_chance"]) < float(r["map"])
    # Without anonymization the Unadapted model retrieves its own ground truth: 1 exactly. The control does not.
    unadapted = none_rows["unadapted"]
    assert (unadapted["degree"], unadapted["queries"], unadapted["linkage"]) == ("0.0", "original", "")
    assert float(unadapted["map"]) == float(unadapted["mndcg"]) == 1.0
    assert float(none_rows["control"]["map"]) < 1.0
    assert set(none_rows) == {"unadapted", "control", *(f"{a}_{m}_100" for a in "ABC" for m in ("pixel", "mask"))}


def test_results_are_numbers_only(builtin_run):
    results = builtin_run / "results"
    assert sorted(p.name for p in results.iterdir()) == [
        "DONE.json", "correlation_100.csv", "downstream.csv", "downstream.json", "reference.json", "scenarios.csv",
        "scenarios.json", "summary.json"]
    assert (results / "scenarios.csv").read_text().split("\n", 1)[0] == ",".join(evaluate.SCENARIO_COLUMNS)
    assert (results / "downstream.csv").read_text().split("\n", 1)[0] == ",".join(evaluate.DOWNSTREAM_COLUMNS)
    assert len(_rows(results / "downstream.csv")) == 10
    summary = json.loads((results / "summary.json").read_text())
    settings = summary["settings"]
    assert {k: settings[k] for k in ("split", "splits", "n", "k", "exclude_self", "self_share", "train_split",
                                     "test_split", "n_test", "builtin", "toy", "warnings")} == dict(
        split="val", splits=["val"], n=400, k=20, exclude_self=False, self_share=0.05, train_split="train",
        test_split="val", n_test=400, builtin=True, toy=True, warnings=[])
    [degree] = summary["degrees"]
    assert degree["degree"] == 1.0 and degree["correlation"] == "correlation_100.csv"
    scenarios = [r for r in json.loads((results / "scenarios.json").read_text()) if r["method"] != "none"]
    assert degree["best"] == max(scenarios, key=lambda r: (r["mndcg"], r["map"]))
    assert [m["method"] for m in degree["methods"]] in (["pixel", "mask"], ["mask", "pixel"])
    assert degree["anonymized_queries"]["pairs"] == 10
    assert degree["chance"] == dict(map=scenarios[0]["map_chance"], mndcg=scenarios[0]["mndcg_chance"])
    assert degree["control"]["map"] < 1.0


def test_report_renders_the_results(builtin_run):
    text = (builtin_run / "report" / "report.md").read_text()
    for part in ("## What this means", "At 100% anonymization:",
                 "### Retrieval at 100% anonymization (mAP, mnDCG20; %)", "With anonymized query images",
                 "### Downstream accuracy at 100% anonymization (%)",
                 "95% bootstrap confidence intervals", "Reference, keep the original embeddings",
                 "the 400 images of `val`", "(50 resamples)", "figures/correlation_100.png",
                 "## Scale of this study", "demonstrate the evaluation, not a finding", "*Random ranking (chance)*",
                 "*Without anonymization", "A random ranking would score", "Retraining alone moves a model"):
        assert part in text
    assert (builtin_run / "report" / "figures" / "correlation_100.png").read_bytes()[:4] == b"\x89PNG"


def test_rows_equal_direct_evaluation(builtin_run):
    """A row of the CSV is the metric computed directly from the embedding files."""
    root = builtin_run / "builtin_embeddings"
    gt, _ = layout.load_embeddings(root, "unadapted", "original", "val")
    db, _ = layout.load_embeddings(root, "A_mask_100", "mask_100", "val")
    queries, _ = layout.load_embeddings(root, "A_mask_100", "original", "val")
    direct = evaluate_scenario(gt, gt, queries, db, n_bootstrap=50)
    row = next(r for r in _rows(builtin_run / "results" / "scenarios.csv")
               if (r["model"], r["method"], r["queries"]) == ("A", "mask", "original"))
    assert float(row["map"]) == pytest.approx(direct.map, abs=1e-9)
    assert float(row["mndcg"]) == pytest.approx(direct.mndcg, abs=1e-9)


def test_rerun_is_skipped_and_changed_config_recomputes(builtin_run, caplog):
    before = (builtin_run / "results" / "scenarios.csv").stat().st_mtime_ns
    with caplog.at_level("INFO"):
        run(_config(), builtin_run)
    assert "up to date" in caplog.text
    assert (builtin_run / "results" / "scenarios.csv").stat().st_mtime_ns == before
    config = _config()
    config.evaluate.fraction = 0.1
    run(config, builtin_run)
    assert (builtin_run / "results" / "scenarios.csv").stat().st_mtime_ns != before


def test_user_directory_with_missing_model_and_misaligned_rows(tmp_path):
    root = tmp_path / "emb"
    write_synthetic_embeddings(root, methods=("blur",), adaptations=("A", "B"), splits=(("train", 60), ("val", 40)))
    shutil.rmtree(root / "B_blur_100")
    config = _config(str(root), methods=("blur",))
    config.evaluate.probes = False
    run(config, tmp_path / "w")
    rows = _rows(tmp_path / "w" / "results" / "scenarios.csv")
    assert {r["model"] for r in rows} == {"unadapted", "control", "A"}

    path = layout.embedding_path(root, "A_blur_100", "blur_100", "val")
    ids = layout.ids_path(path)
    ids.write_text(json.dumps(list(reversed(json.loads(ids.read_text())))))
    config.evaluate.fraction = 0.2  # a new fingerprint, so the stage runs again
    with pytest.raises(DatasetError, match="not the images of the Unadapted original embeddings") as error:
        run(config, tmp_path / "w")
    assert str(path) in str(error.value) and str(ids) in str(error.value)
    assert "row 0 is image 'val-00039' there but 'val-00000' in the Unadapted one" in str(error.value)


def test_unadapted_required(tmp_path):
    root = tmp_path / "emb"
    write_synthetic_embeddings(root, methods=("blur",), adaptations=(), splits=(("val", 30),))
    shutil.rmtree(root / "unadapted" / "blur_100")
    config = _config(str(root), methods=("blur",))
    with pytest.raises(DatasetError, match="Unadapted model has no blur_100 embeddings of val") as error:
        run(config, tmp_path / "w")
    assert str(root / "unadapted" / "blur_100" / "val.npy") in str(error.value)


def test_builtin_set_is_deterministic(tmp_path):
    write_synthetic_embeddings(tmp_path / "a", methods=("mask",), splits=(("val", 20),))
    write_synthetic_embeddings(tmp_path / "b", methods=("mask",), splits=(("val", 20),))
    a, _ = layout.load_embeddings(tmp_path / "a", "C_mask_100", "mask_100", "val")
    b, _ = layout.load_embeddings(tmp_path / "b", "C_mask_100", "mask_100", "val")
    np.testing.assert_array_equal(a, b)


def _set(config, key: str, value) -> None:
    """Set a dotted key to a value of any type, as a hand-written config file could."""
    *parents, name = key.split(".")
    node = config
    for part in parents:
        node = node[part]
    with config.ignore_type():
        node[name] = value


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("evaluate.split", "validation", "config.evaluate.split: must be one of ['all', 'test', 'train', 'val'], "
                                         "got 'validation'"),
        ("evaluate.train_split", "training", "config.evaluate.train_split: must be one of ['test', 'train', 'val']"),
        ("evaluate.train_split", "val", "config.evaluate.train_split: is 'val', the split the probes are tested on"),
        ("evaluate.knn_temperature", 0.0, "config.evaluate.knn_temperature: must be a positive number, got 0.0"),
        ("evaluate.knn_temperature", -0.07, "config.evaluate.knn_temperature: must be a positive number, got -0.07"),
        ("evaluate.knn_temperature", float("nan"), "config.evaluate.knn_temperature: must be a positive number"),
        ("evaluate.knn_temperature", "0.07", "config.evaluate.knn_temperature: must be a positive number, got '0.07'"),
        ("seed", -1, "config.seed: must be an integer >= 0, got -1"),
        ("seed", 1.5, "config.seed: must be an integer >= 0, got 1.5"),
        ("seed", True, "config.seed: must be an integer >= 0, got True"),
        ("evaluate.self_matches", False, "config.evaluate.self_matches: must be one of ['auto', 'exclude', 'keep'], "
                                         "got False"),
        ("evaluate.probes", 1, "config.evaluate.probes: must be True or False, got 1"),
    ],
)
def test_bad_settings_stop_before_any_work(tmp_path, key, value, message):
    config = _config()
    _set(config, key, value)
    with pytest.raises(ConfigError, match=f"^{re.escape(message)}"):
        run(config, tmp_path / "w")
    assert not (tmp_path / "w").exists()


def test_probes_off_allow_one_split_for_both():
    config = _config()
    config.evaluate.train_split = config.evaluate.split
    config.evaluate.probes = False
    evaluate.validate(config)


def _user_set(tmp_path, **kwargs) -> Path:
    root = tmp_path / "emb"
    write_synthetic_embeddings(root, methods=("blur",), adaptations=("A",), splits=(("train", 60), ("val", 40)),
                               num_classes=3, dim=16, **kwargs)
    return root


def _user_config(root, probes=False):
    config = _config(str(root), methods=("blur",))
    config.grid.adaptations = ("A",)
    config.evaluate.probes = probes
    return config


def test_train_rows_are_checked_against_the_unadapted_ids(tmp_path):
    """Reordered train rows with a matching ids file are the wrong rows for the labels: refused, not scored."""
    root = _user_set(tmp_path)
    path = layout.embedding_path(root, "A_blur_100", "blur_100", "train")
    order = np.random.default_rng(0).permutation(60)
    np.save(path, np.load(path)[order])
    ids = json.loads(layout.ids_path(path).read_text())
    layout.ids_path(path).write_text(json.dumps([ids[i] for i in order]))
    with pytest.raises(DatasetError, match="not the images of the Unadapted original embeddings") as error:
        run(_user_config(root, probes=True), tmp_path / "w")
    reference = layout.embedding_path(root, "unadapted", "original", "train")
    for named in (path, layout.ids_path(path), reference, layout.ids_path(reference)):
        assert str(named) in str(error.value)
    assert f"row 0 is image {ids[order[0]]!r} there but 'train-00000' in the Unadapted one" in str(error.value)


def _rewrite_keeping_size_and_time(path: Path, data: bytes) -> None:
    path = Path(path)  # a POSIX stat, with nanoseconds
    stat = path.stat()
    path.write_bytes(data)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stat.st_size, stat.st_mtime_ns)


def test_replaced_embeddings_of_same_size_and_time_are_evaluated_again(tmp_path, caplog):
    root = _user_set(tmp_path)
    run(_user_config(root), tmp_path / "w")
    target = layout.embedding_path(root, "A_blur_100", "blur_100", "val")
    _rewrite_keeping_size_and_time(target, layout.embedding_path(root, "unadapted", "blur_100", "val").read_bytes())
    with caplog.at_level("INFO"):
        run(_user_config(root), tmp_path / "w")
    assert "up to date" not in caplog.text
    rows = {(r["model"], r["queries"]): r for r in _rows(tmp_path / "w" / "results" / "scenarios.csv")}
    # Model A's anonymized embeddings are now the Unadapted model's: the same scores with anonymized queries.
    assert rows["A", "anonymized"]["map"] == rows["unadapted", "anonymized"]["map"]
    assert rows["A", "anonymized"]["mndcg"] == rows["unadapted", "anonymized"]["mndcg"]


def test_edited_ids_file_is_read_again(tmp_path):
    root = _user_set(tmp_path)
    run(_user_config(root), tmp_path / "w")
    ids_file = layout.ids_path(layout.embedding_path(root, "A_blur_100", "blur_100", "val"))
    swapped = ids_file.read_text().replace("val-00000", "swap").replace("val-00001", "val-00000")
    _rewrite_keeping_size_and_time(ids_file, swapped.replace("swap", "val-00001").encode())
    with pytest.raises(DatasetError, match="row 0 is image 'val-00001' there but 'val-00000' in the Unadapted one"):
        run(_user_config(root), tmp_path / "w")


def test_edited_labels_are_read_again(tmp_path, caplog):
    root = _user_set(tmp_path)
    config = _user_config(root, probes=True)
    run(config, tmp_path / "w")
    before = _rows(tmp_path / "w" / "results" / "downstream.csv")
    labels_file = layout.labels_path(root, "val")
    labels = np.load(labels_file)
    shuffled = tmp_path / "shuffled.npy"  # outside the embeddings directory
    np.save(shuffled, np.roll(labels, 1))  # a new set of labels for the same images, as large as the old one
    _rewrite_keeping_size_and_time(labels_file, shuffled.read_bytes())
    with caplog.at_level("INFO"):
        run(config, tmp_path / "w")
    assert "up to date" not in caplog.text
    after = _rows(tmp_path / "w" / "results" / "downstream.csv")
    assert [r["knn"] for r in after] != [r["knn"] for r in before]


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.ones((40, 16), np.complex64), "hold complex64 values; they must be real numbers"),
        (np.full((40, 16), "0.5"), "hold <U3 values; they must be real numbers"),
        (np.ones((40, 16), bool), "hold bool values; they must be real numbers"),
        (np.ones((40, 16), object), "is not a readable .npy array"),
    ],
)
def test_embeddings_that_are_not_real_numbers_are_refused(tmp_path, array, message):
    root = _user_set(tmp_path)
    path = layout.embedding_path(root, "unadapted", "blur_100", "val")
    np.save(path, array, allow_pickle=True)
    with pytest.raises(DatasetError, match=re.escape(message)) as error:
        run(_user_config(root), tmp_path / "w")
    assert str(path) in str(error.value)


def test_bad_rows_name_the_file(tmp_path):
    root = _user_set(tmp_path)
    path = layout.embedding_path(root, "unadapted", "blur_100", "val")
    array = np.load(path)
    array[5, 3] = np.nan
    np.save(path, array)
    with pytest.raises(DatasetError, match=f"^{re.escape(str(path))}: row 5 holds NaN or inf"):
        run(_user_config(root), tmp_path / "w")
    array[5] = 0
    np.save(path, array)
    with pytest.raises(DatasetError, match=f"^{re.escape(str(path))}: row 5 is a zero vector"):
        run(_user_config(root), tmp_path / "w")


def test_huge_finite_float64_embeddings_score_like_their_scaled_copies(tmp_path):
    """float64 values near 1e300 are finite: the same results as the same directions at ordinary size."""
    results = {}
    for factor in (1.0, 2.0**990):  # a power of two: scaling is exact in floating point
        root = _user_set(tmp_path / str(factor))
        for path in root.glob("*/*/*.npy"):
            if path.parent.parent.name != "labels":
                np.save(path, np.load(path).astype(np.float64) * factor)
        run(_user_config(root, probes=True), tmp_path / str(factor) / "w")
        results[factor] = [(tmp_path / str(factor) / "w" / "results" / name).read_text()
                           for name in ("scenarios.csv", "downstream.csv")]
    assert float(np.max(np.abs(np.load(layout.embedding_path(tmp_path / str(2.0**990) / "emb", "unadapted",
                                                              "original", "val"))))) > 1e290
    assert results[1.0] == results[2.0**990]


def test_labels_must_match_the_unadapted_rows(tmp_path):
    root = _user_set(tmp_path)
    labels_file = layout.labels_path(root, "train")
    np.save(labels_file, np.load(labels_file)[:-1])
    with pytest.raises(DatasetError, match=f"^{re.escape(str(labels_file))} holds 59 labels but the Unadapted"):
        run(_user_config(root, probes=True), tmp_path / "w")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[\"val-00000\", ", "is not a readable JSON file"),
        ('{"ids": []}', "must hold a JSON list of strings"),
        (json.dumps(list(range(40))), "must hold a JSON list of strings"),
        (json.dumps(["val-00000"] * 40), "lists the image id 'val-00000' more than once"),
        (json.dumps(["val-00000"]), "lists 1 ids but"),
    ],
)
def test_malformed_ids_file_is_named(tmp_path, text, message):
    root = _user_set(tmp_path)
    ids_file = layout.ids_path(layout.embedding_path(root, "unadapted", "original", "val"))
    ids_file.write_text(text)
    with pytest.raises(DatasetError, match=f"^{re.escape(str(ids_file))} {re.escape(message)}"):
        layout.load_embeddings(root, "unadapted", "original", "val")


def test_stale_results_go_and_nothing_is_printed(tmp_path, capsys):
    root = _user_set(tmp_path)
    run(_user_config(root, probes=True), tmp_path / "w")
    results = tmp_path / "w" / "results"
    assert (results / "downstream.csv").is_file()
    (results / "notes.md").write_text("an earlier run's table")
    run(_user_config(root, probes=False), tmp_path / "w")
    assert sorted(p.name for p in results.iterdir()) == [
        "DONE.json", "reference.json", "scenarios.csv", "scenarios.json", "summary.json"]
    assert json.loads((results / "summary.json").read_text())["settings"]["train_split"] is None
    assert capsys.readouterr().out == ""
    text = (tmp_path / "w" / "report" / "report.md").read_text()
    assert "Downstream accuracy" not in text and "probes are fitted" not in text


def _hand_made_results(workdir: Path) -> None:
    """Results as the evaluate stage writes them, with numbers no stage would compute from each other."""
    results = workdir / "results"
    results.mkdir(parents=True)
    rows = [dict(model=m, model_name=f"{m}_blur_50" if m in "AB" else m, method="blur", degree=0.5, queries=q,
                 map=0.5, mndcg=0.8, map_low=0.4, map_high=0.6, mndcg_low=0.7, mndcg_high=0.9, map_chance=0.03,
                 mndcg_chance=0.6, linkage=0.25, k=1, n=22)
            for m in ("unadapted", "control", "A", "B") for q in ("original", "anonymized")]
    none_rows = [dict(rows[0], method="none", degree=0.0, map=1.0, mndcg=1.0, linkage=None),
                 dict(rows[4], method="none", degree=0.0, map=0.75, mndcg=0.875, linkage=None)]
    (results / "scenarios.json").write_text(json.dumps(rows + none_rows))
    (results / "downstream.json").write_text(json.dumps(
        [dict(model=m, method="blur", degree=0.5, knn=0.5, linear=0.5) for m in ("unadapted", "A", "B")]))
    (results / "correlation_50.csv").write_text(
        "metric,mAP (original),k-NN,Linear\nmAP (original),1.0,0.1234,nan\nk-NN,0.1234,1.0,nan\n"
        "Linear,nan,nan,1.0\n")
    gap = dict(diff=0.012, low=-0.01, high=0.03, separated=False)
    summary = dict(chance=dict(map=0.0312, mndcg=0.6123), control=dict(map=0.75, mndcg=0.875),
                   best=rows[4], worst=rows[7], gap=gap,
                   anonymized_queries=dict(pairs=3, rose=2, fell=0, mean_change=0.0123),
                   methods=[dict(method="blur", mndcg=0.8, next=None)],
                   adaptation=[dict(method="blur", model="A", mndcg=0.81, unadapted=0.8, retraining_noise=0.02,
                                    diff=0.01, low=0.005, high=0.015, separated=True, beyond_retraining=False)],
                   linkage=dict(low=0.125, high=0.375, model="B", method="blur"),
                   probes=dict(best_knn=dict(model="B", method="blur", knn=0.625, interval=(0.5, 0.7), n=22,
                                             runner_up=dict(model="A", method="blur", knn=0.6), separated=False)),
                   with_accuracy=[dict(accuracy="k-NN", metric="mAP (original)", r=-0.4321, n=9,
                                       interval=(-0.8, 0.3))],
                   marks=[dict(table="retrieval", queries="original", method="blur", metric="map", model="B")])
    (results / "summary.json").write_text(json.dumps(dict(
        settings=dict(split="test", splits=["test"], n=22, k=1, fraction=0.05, exclude_self=False,
                      self_matches="keep", self_share=1.0, n_bootstrap=7, train_split="val", test_split="test",
                      n_test=22, builtin=False, scale=None, toy=True, warnings=["each query has only 1 relevant item"]),
        degrees=[dict(degree=0.5, correlation="correlation_50.csv", **summary)], nested=[])))


def test_report_states_what_the_results_say(tmp_path):
    """Every number the report states comes from the result files, even where the rows would say otherwise."""
    _hand_made_results(tmp_path)
    report.run(ml_collections.ConfigDict(), tmp_path)
    text = (tmp_path / "report" / "report.md").read_text()
    for part in ("A random ranking would score mAP 3.1% and mnDCG 61.2%",
                 "the control (the Unadapted recipe, another seed) scores mAP 75.0%, mnDCG 87.5%",
                 "closest to the original system with Adaption A/blur and original queries",
                 "furthest with Adaption B/blur and anonymized queries",
                 "the mnDCG gap (+1.2 points, 95% interval -1.0 to +3.0) is indistinguishable at this size",
                 "raises mnDCG beyond the noise in 2 of 3 model/method pairs, lowers it in 0, and is "
                 "indistinguishable at this size in 1 (mean change +1.2 points)",
                 "the best adapted model, Adaption A, scores mnDCG 81.0%",
                 "within the retraining noise (2.00 points)",
                 "between 12.5% and 37.5%", "highest for Adaption B/blur",
                 "comes from Adaption B/blur: 62.5% (95% interval 50.0-70.0%, 22 test images)",
                 "the runner-up, Adaption A/blur (60.0%), is indistinguishable at this size",
                 "Across 9 model/method pairs, no retrieval metric rises with k-NN accuracy; the highest correlation "
                 "is mAP (original)'s (Pearson r -0.43, 95% interval -0.80 to +0.30): no correlation is "
                 "distinguishable",
                 "**Warning:** each query has only 1 relevant item", "demonstrate the pipeline at toy scale",
                 "the 22 images of `test`", "its relevant set is its own image alone", "(7 resamples)",
                 "fitted on split `val`", "### Retrieval at 50% anonymization (mAP, mnDCG1; %)",
                 "| Control | 50.0 | 80.0 |", "| Adaption B | **50.0** | 80.0 |", "| Adaption A | 75.0 | 87.5 |",
                 "| *Random ranking (chance)* | 3.0 | 60.0 |"):
        assert part in text
    assert "Reference, keep" not in text  # no reference.json
    assert (tmp_path / "report" / "figures" / "correlation_50.png").is_file()


def test_report_names_a_damaged_results_file(tmp_path):
    _hand_made_results(tmp_path)
    (tmp_path / "results" / "correlation_50.csv").write_text("metric,x\ny,1\n")
    with pytest.raises(DatasetError, match=r"correlation_50\.csv is not a correlation matrix"):
        report.run(ml_collections.ConfigDict(), tmp_path)
    (tmp_path / "results" / "summary.json").write_text("{")
    with pytest.raises(DatasetError, match=r"summary\.json is not a readable JSON file"):
        report.run(ml_collections.ConfigDict(), tmp_path)


def test_report_reads_the_correlation_where_the_work_directory_names_it(tmp_path):
    """summary.json says whether a degree has a correlation matrix; a file name in it never leads the report
    elsewhere."""
    _hand_made_results(tmp_path)
    summary = json.loads((tmp_path / "results" / "summary.json").read_text())
    summary["degrees"][0]["correlation"] = "../outside.csv"
    (tmp_path / "results" / "summary.json").write_text(json.dumps(summary))
    (tmp_path / "outside.csv").write_text("metric,x\ny,1\n")
    report.run(ml_collections.ConfigDict(), tmp_path)
    assert (tmp_path / "report" / "figures" / "correlation_50.png").is_file()


def test_report_plots_the_training_log_of_every_model(tmp_path):
    _hand_made_results(tmp_path)
    for model, loss in (("unadapted", 2.0), ("A_blur_50", 3.0)):
        (tmp_path / "train" / model).mkdir(parents=True)
        (tmp_path / "train" / model / "training_log.jsonl").write_text(
            "\n".join(json.dumps(dict(step=s, loss=loss - s / 10)) for s in range(3)) + "\n")
    (tmp_path / "train" / "control").mkdir()  # a run that has logged nothing yet
    (tmp_path / "train" / "DONE.json").write_text("{}")
    report.run(ml_collections.ConfigDict(), tmp_path)
    text = (tmp_path / "report" / "report.md").read_text()
    assert "![Training loss of every model](figures/training_loss.png)" in text
    assert (tmp_path / "report" / "figures" / "training_loss.png").read_bytes()[:4] == b"\x89PNG"


def test_report_without_results_asks_for_the_evaluate_stage(tmp_path):
    from anonjax.errors import MissingInputError

    with pytest.raises(MissingInputError, match="run the evaluate stage first"):
        report.run(ml_collections.ConfigDict(), tmp_path)


def test_a_small_set_leaves_self_matches_out_and_warns(tmp_path, caplog):
    """40 queries: kept, a self-match would be half of a relevant set of 2, so "auto" leaves it out, and k = 1
    is flagged as too small to separate settings; anonymized queries are then not 100% by construction."""
    root = _user_set(tmp_path)
    with caplog.at_level("WARNING"):
        run(_user_config(root), tmp_path / "w")
    settings = json.loads((tmp_path / "w" / "results" / "summary.json").read_text())["settings"]
    assert (settings["n"], settings["k"], settings["exclude_self"], settings["self_share"]) == (40, 1, True, None)
    assert settings["warnings"] and "cannot separate settings" in caplog.text
    rows = json.loads((tmp_path / "w" / "results" / "scenarios.json").read_text())
    assert any(r["map"] < 1 for r in rows if r["queries"] == "anonymized")
    text = (tmp_path / "w" / "report" / "report.md").read_text()
    assert "**Warning:** each query has only 1 relevant item" in text
    assert "left out of its ranking (automatically" in text

    config = _user_config(root)
    config.evaluate.self_matches = "keep"  # configurable: kept, and the report says what that means
    run(config, tmp_path / "w")
    settings = json.loads((tmp_path / "w" / "results" / "summary.json").read_text())["settings"]
    assert (settings["k"], settings["exclude_self"], settings["self_share"]) == (2, False, 0.5)


def test_split_all_evaluates_every_embedded_split_and_probes_test_on_val(tmp_path):
    root = _user_set(tmp_path)
    config = _user_config(root, probes=True)
    config.evaluate.split = "all"
    evaluate.validate(config)
    run(config, tmp_path / "w")
    results = tmp_path / "w" / "results"
    settings = json.loads((results / "summary.json").read_text())["settings"]
    assert (settings["splits"], settings["n"], settings["k"]) == (["train", "val"], 100, 4)
    assert (settings["train_split"], settings["test_split"], settings["n_test"]) == ("train", "val", 40)
    # A row is the direct evaluation of both splits joined, train rows first.
    gt = np.concatenate([layout.load_embeddings(root, "unadapted", "original", s)[0] for s in ("train", "val")])
    db = np.concatenate([layout.load_embeddings(root, "A_blur_100", "blur_100", s)[0] for s in ("train", "val")])
    direct = evaluate_scenario(gt, gt, db, db, exclude_self=True, n_bootstrap=50)
    row = next(r for r in json.loads((results / "scenarios.json").read_text())
               if (r["model"], r["queries"]) == ("A", "anonymized"))
    assert row["map"] == pytest.approx(direct.map, abs=1e-9) and row["map_chance"] == direct.map_chance
    config.evaluate.test_split = "train"  # the probes cannot be tested on the split they are fitted on
    with pytest.raises(ConfigError, match=r"evaluate\.train_split: is 'train', the split the probes are tested on"):
        evaluate.validate(config)


def _rewrite(root: Path, change, models=None) -> None:
    """Apply ``change`` to the val embeddings of every model (or of ``models``) and variant."""
    for path in sorted(root.glob("*/*/val.npy")):
        if path.parent.parent.name != "labels" and (models is None or path.parent.parent.name in models):
            np.save(path, change(np.load(path)))


@pytest.mark.parametrize(("rows", "why"), [(1, "a query has no image to rank besides its own; at least 3 rows"),
                                           (2, "each query ranks 1 image(s) besides its own, and all are in its "
                                               "relevant set (k = 1); at least 3 rows")], ids=["1 row", "2 rows"])
def test_too_few_rows_stop_with_one_line_naming_the_file(tmp_path, rows, why):
    root = _user_set(tmp_path)
    _rewrite(root, lambda a: a[:rows])
    for path in root.glob("*/*/val.ids.json"):
        path.write_text(json.dumps(json.loads(path.read_text())[:rows]))
    gt = layout.embedding_path(root, "unadapted", "original", "val")
    with pytest.raises(DatasetError, match=f"^{re.escape(str(gt))}: {rows} row\\(s\\) are too few to score "
                                           f"retrieval: {re.escape(why)}"):
        run(_user_config(root), tmp_path / "w")
    assert not (tmp_path / "w" / "results").exists()


def test_a_variant_of_another_dimension_names_both_files(tmp_path):
    root = _user_set(tmp_path)
    path = layout.embedding_path(root, "A_blur_100", "blur_100", "val")
    np.save(path, np.tile(np.load(path), (1, 2)))
    original = layout.embedding_path(root, "A_blur_100", "original", "val")
    with pytest.raises(DatasetError, match=f"^{re.escape(str(path))} has dimension 32, {re.escape(str(original))} "
                                           "has 16: every variant and split of a model"):
        run(_user_config(root), tmp_path / "w")


def test_splits_of_another_dimension_name_both_files(tmp_path):
    root = _user_set(tmp_path)
    path = layout.embedding_path(root, "unadapted", "original", "val")
    np.save(path, np.load(path)[:, :8])
    config = _user_config(root)
    config.evaluate.split = "all"
    train = layout.embedding_path(root, "unadapted", "original", "train")
    with pytest.raises(DatasetError, match=f"^{re.escape(str(path))} has dimension 8, {re.escape(str(train))} has 16"):
        run(config, tmp_path / "w")


@pytest.mark.parametrize(("change", "why"), [
    (lambda a: np.tile(a[:1], (len(a), 1)), "40 of 40 queries"),  # every row the same vector
    (lambda a: a[:, :1], "40 of 40 queries (more than 50%) have no defined relevant set: their k-th and (k+1)-th "
                         "most similar images (k = 1) have the same cosine (dimension 1: every cosine is +1 or -1)"),
], ids=["identical rows", "dimension 1"])
def test_a_ground_truth_of_ties_is_not_scored(tmp_path, change, why):
    """Identical rows, or one dimension, leave the relevant sets to row order: no 100% and no index-order score."""
    root = _user_set(tmp_path)
    _rewrite(root, change)
    gt = layout.embedding_path(root, "unadapted", "original", "val")
    with pytest.raises(DatasetError, match=f"^{re.escape(str(gt))}: {re.escape(why)}"):
        run(_user_config(root), tmp_path / "w")
    assert not (tmp_path / "w" / "results").exists()


def _nearest_others(gt: np.ndarray) -> np.ndarray:
    """Every query's most similar other row, in float64."""
    unit = gt / np.linalg.norm(gt, axis=1, keepdims=True)
    cos = unit @ unit.T
    np.fill_diagonal(cos, -np.inf)
    return cos.argmax(axis=1)


def test_tied_queries_are_left_out_counted_and_reported(tmp_path):
    """Six copies of one row: their queries, and those whose nearest image is that row, tie at k = 1."""
    root = _user_set(tmp_path)
    _rewrite(root, lambda a: np.concatenate([np.tile(a[:1], (6, 1)), a[6:]]), models={"unadapted"})
    gt, _ = layout.load_embeddings(root, "unadapted", "original", "val")
    tied = np.isin(_nearest_others(gt), range(6))
    assert 6 < tied.sum() < 20
    run(_user_config(root), tmp_path / "w")
    results = tmp_path / "w" / "results"
    settings = json.loads((results / "summary.json").read_text())["settings"]
    assert (settings["k"], settings["tied"]) == (1, tied.sum())
    db, _ = layout.load_embeddings(root, "A_blur_100", "blur_100", "val")
    direct = evaluate_scenario(gt, gt, db, db, exclude_self=True, n_bootstrap=50)
    row = next(r for r in json.loads((results / "scenarios.json").read_text())
               if (r["model"], r["queries"]) == ("A", "anonymized"))
    assert row["scored"] == 40 - tied.sum()
    assert row["map"] == pytest.approx(direct.ap[~tied].mean(), abs=1e-12)
    text = (tmp_path / "w" / "report" / "report.md").read_text()
    assert (f"**Warning:** {tied.sum()} of 40 queries have no defined relevant set (their k-th and (k+1)-th most "
            "similar images, k = 1, have the same cosine in the ground truth): they are left out of every score, "
            f"which covers the other {40 - tied.sum()}") in text


def test_duplicate_rows_off_the_boundary_score_as_before(tmp_path):
    """Two rows that no other image has as its nearest are made one vector: their queries find each other, no
    query ties, and every score is the direct evaluation's over all queries."""
    root = _user_set(tmp_path)
    gt, _ = layout.load_embeddings(root, "unadapted", "original", "val")
    a, b = sorted(set(range(40)) - set(_nearest_others(gt)))[:2]
    _rewrite(root, lambda x: np.where(np.arange(len(x))[:, None] == b, x[a], x), models={"unadapted"})
    gt, _ = layout.load_embeddings(root, "unadapted", "original", "val")
    run(_user_config(root), tmp_path / "w")
    results = tmp_path / "w" / "results"
    assert json.loads((results / "summary.json").read_text())["settings"]["tied"] == 0
    for model in ("unadapted", "A_blur_100"):
        db, _ = layout.load_embeddings(root, model, "blur_100", "val")
        direct = evaluate_scenario(gt, gt, db, db, exclude_self=True, n_bootstrap=50)
        row = next(r for r in json.loads((results / "scenarios.json").read_text())
                   if (r["model_name"], r["queries"]) == (model, "anonymized"))
        assert (row["map"], row["mndcg"], row["scored"]) == (direct.map, direct.mndcg, 40)
