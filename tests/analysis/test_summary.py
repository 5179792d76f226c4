"""The per-degree summary: every comparison carries its noise (paired bootstrap, retraining noise, Wilson
intervals), and nothing inside the noise is called a winner."""

import numpy as np
import pytest

from anonjax.analysis.summary import degree_summary, nested_degrees, retraining_noise
from anonjax.retrieval import paired_difference_ci

N = 200


def _scores(mean, spread, seed):
    """Per-query scores around ``mean``: a shared query effect plus a row's own noise of size ``spread``."""
    shared = np.random.default_rng(0).normal(0, 0.1, N)
    return np.clip(mean + shared + np.random.default_rng(seed).normal(0, spread, N), -1, 2)


class Results:
    """Scenario rows with per-query AP and nDCG, and the paired bootstrap the evaluate stage gives the summary."""

    def __init__(self):
        self.rows, self.per_query = [], {}

    def add(self, model, method, queries, mndcg, *, map_=None, spread=0.01, degree=1.0, linkage=0.5):
        ndcg = _scores(mndcg, spread, len(self.rows) + 1)
        ap = _scores(mndcg if map_ is None else map_, spread, len(self.rows) + 101)
        row = dict(model=model, model_name=model, method=method, degree=degree, queries=queries, map=ap.mean(),
                   mndcg=ndcg.mean(), map_chance=0.05, mndcg_chance=0.4, linkage=linkage, k=10, n=N)
        self.rows.append(row)
        self.per_query[(model, method, degree, queries)] = {"map": ap, "mndcg": ndcg}
        return row

    def paired(self, a, b, metric):
        key = lambda r: (r["model"], r["method"], r["degree"], r["queries"])
        return paired_difference_ci(self.per_query[key(a)][metric], self.per_query[key(b)][metric], 500, 0)


def _study():
    r = Results()
    r.add("unadapted", "blur", "original", 0.90)
    r.add("unadapted", "blur", "anonymized", 0.9003)  # the same within the noise
    r.add("control", "blur", "original", 0.88)  # retraining noise: 2 points
    r.add("control", "blur", "anonymized", 0.87)
    r.add("A", "blur", "original", 0.91)  # 1 point above the Unadapted model: inside the retraining noise
    r.add("A", "blur", "anonymized", 0.95)  # clearly raised by anonymized queries
    r.add("unadapted", "mask", "original", 0.60, linkage=0.9)
    r.add("unadapted", "mask", "anonymized", 0.55)
    r.add("control", "mask", "original", 0.595)
    r.add("A", "mask", "original", 0.70)  # 10 points above, retraining noise 0.5: beyond it
    return r


def test_comparisons_carry_their_noise():
    r = _study()
    s = degree_summary(r.rows, r.paired)
    assert s["chance"] == dict(map=0.05, mndcg=0.4)
    assert (s["best"]["model"], s["best"]["method"], s["best"]["queries"]) == ("A", "blur", "anonymized")
    assert (s["worst"]["model"], s["worst"]["method"], s["worst"]["queries"]) == ("unadapted", "mask", "anonymized")
    assert s["gap"]["separated"] and s["gap"]["low"] > 0.3
    # Unadapted/blur unchanged, control/blur and Unadapted/mask lowered, A/blur raised.
    assert {k: s["anonymized_queries"][k] for k in ("pairs", "rose", "fell")} == dict(pairs=4, rose=1, fell=2)
    assert [m["method"] for m in s["methods"]] == ["blur", "mask"] and s["methods"][0]["next"]["separated"]
    blur, mask = s["adaptation"]
    assert (blur["model"], blur["separated"], blur["beyond_retraining"]) == ("A", True, False)
    assert blur["retraining_noise"] == pytest.approx(0.02, abs=0.005)
    assert (mask["model"], mask["beyond_retraining"]) == ("A", True)
    assert s["linkage"] == dict(low=0.5, high=0.9, model="unadapted", method="mask")


def test_a_difference_inside_the_noise_is_not_a_winner():
    r = Results()
    r.add("unadapted", "blur", "original", 0.80, spread=0.2)
    r.add("A", "blur", "original", 0.805, spread=0.2)
    s = degree_summary(r.rows, r.paired)
    assert not s["gap"]["separated"] and s["gap"]["low"] < 0 < s["gap"]["high"]
    assert s["marks"] == []  # no bold cell: the best is not separated from the runner-up
    assert not s["adaptation"][0]["separated"] and s["adaptation"][0]["beyond_retraining"] is None


def test_marks_only_where_the_best_is_separated():
    r = Results()
    r.add("unadapted", "blur", "original", 0.95)
    r.add("A", "blur", "original", 0.70)
    r.add("unadapted", "mask", "original", 0.80, map_=0.5)
    r.add("A", "mask", "original", 0.8002, map_=0.7)
    marks = degree_summary(r.rows, r.paired)["marks"]
    assert {(m["method"], m["metric"], m["model"]) for m in marks} == {
        ("blur", "map", "unadapted"), ("blur", "mndcg", "unadapted"), ("mask", "map", "A")}


def test_probes_carry_wilson_intervals():
    r = _study()
    down = [dict(model="A", method="blur", knn=0.70, linear=0.6), dict(model="unadapted", method="blur", knn=0.68,
                                                                     linear=0.9),
            dict(model="unadapted", method="mask", knn=0.30, linear=0.3), dict(model="A", method="mask", knn=0.9,
                                                                             linear=0.2)]
    s = degree_summary(r.rows, r.paired, downstream=down, n_test=100)
    best = s["probes"]["best_knn"]
    assert (best["model"], best["method"], best["n"]) == ("A", "mask", 100) and best["separated"] is True
    assert best["interval"] == pytest.approx((0.8256, 0.9448), abs=1e-4)  # Wilson, 90 of 100
    small = degree_summary(r.rows, r.paired, downstream=down[:2], n_test=100)["probes"]["best_knn"]
    assert small["separated"] is False  # 70% against 68% of 100 images
    marks = {(m["method"], m["metric"], m["model"]) for m in s["marks"] if m["table"] == "downstream"}
    # k-NN: blur 70 vs 68 of 100 is not separated, mask 90 vs 30 is; linear: blur 90 vs 60 is, mask 30 vs 20 not.
    assert marks == {("mask", "knn", "A"), ("blur", "linear", "unadapted")}


def test_retraining_noise_is_the_gap_to_the_control():
    rows = [dict(model="unadapted", method="pixel", degree=1.0, queries="original", mndcg=0.9),
            dict(model="control", method="pixel", degree=1.0, queries="original", mndcg=0.85),
            dict(model="unadapted", method="blur", degree=1.0, queries="original", mndcg=0.9)]
    assert retraining_noise(rows) == {("pixel", 1.0, "original"): pytest.approx(0.05)}


def test_nested_degrees_flag_more_anonymization_retrieving_better():
    r = Results()
    r.add("unadapted", "mask", "original", 0.5, degree=0.5)
    r.add("unadapted", "mask", "original", 0.6, degree=1.0)
    r.add("unadapted", "pixel", "original", 0.9, degree=0.5)
    r.add("unadapted", "pixel", "original", 0.8, degree=1.0)
    mask, pixel = nested_degrees(r.rows, r.paired)
    assert (mask["method"], mask["degree"], mask["lower"], mask["separated"]) == ("mask", 1.0, 0.5, True)
    assert mask["diff"] > 0 and pixel["diff"] < 0


def test_without_rows():
    assert degree_summary([], lambda a, b, m: (0.0, 0.0, 0.0)) == {}
