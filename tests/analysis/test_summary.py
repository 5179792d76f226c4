import pytest

from anonjax.analysis.summary import beyond_noise, degree_summary


def _row(model, method, queries, map_, mndcg, linkage=0.5, half_width=0.01):
    return dict(model=model, method=method, degree=1.0, queries=queries, map=map_, mndcg=mndcg,
                map_low=map_ - half_width, map_high=map_ + half_width,
                mndcg_low=mndcg - half_width, mndcg_high=mndcg + half_width, linkage=linkage, k=19, n=400)


ROWS = [_row("unadapted", "blur", "original", 0.9, 0.95), _row("unadapted", "blur", "anonymized", 0.8, 0.94),
        _row("A", "mask", "original", 0.2, 0.60, linkage=0.9), _row("A", "mask", "anonymized", 0.3, 0.70)]


def test_noise_is_whether_the_intervals_are_apart():
    a, b = _row("A", "mask", "original", 0.5, 0.50), _row("A", "mask", "anonymized", 0.5, 0.52)
    assert beyond_noise(a, b) is False  # [0.49, 0.51] and [0.51, 0.53] touch
    assert beyond_noise(a, _row("A", "mask", "anonymized", 0.5, 0.53)) is True
    assert beyond_noise(_row("A", "mask", "anonymized", 0.5, 0.47), a) is True
    assert beyond_noise(a, _row("A", "mask", "anonymized", 0.55, 0.50), "map") is True


def test_summary_numbers():
    s = degree_summary(ROWS, [dict(model="A", method="mask", knn=0.7, linear=0.6),
                              dict(model="unadapted", method="blur", knn=0.6, linear=0.9)],
                       [("mnDCG (anonymized)", -0.9), ("mAP (original)", 0.2)])
    assert (s["best"]["model"], s["best"]["queries"]) == ("unadapted", "original")
    assert (s["worst"]["model"], s["worst"]["queries"], s["worst"]["mndcg"]) == ("A", "original", 0.60)
    assert s["gap_beyond_noise"] is True
    # Unadapted/blur: 0.95 -> 0.94 (within the noise); A/mask: 0.60 -> 0.70 (beyond it).
    assert s["anonymized_queries"] == dict(pairs=2, rose=1, beyond_noise=1, mean_change=pytest.approx(0.045))
    assert s["methods"] == [dict(method="blur", mndcg=pytest.approx(0.945)),
                            dict(method="mask", mndcg=pytest.approx(0.65))]
    assert s["linkage"] == dict(low=0.5, high=0.9, model="A", method="mask")
    assert s["best_knn"] == dict(model="A", method="mask", knn=0.7)
    assert s["with_accuracy"] == [dict(metric="mnDCG (anonymized)", r=-0.9), dict(metric="mAP (original)", r=0.2)]


def test_without_probes_and_without_rows():
    s = degree_summary(ROWS)
    assert "best_knn" not in s and "with_accuracy" not in s
    assert degree_summary([]) == {}


def test_best_and_worst_within_the_noise():
    rows = [_row("unadapted", "blur", "original", 0.9, 0.95, half_width=0.1),
            _row("unadapted", "blur", "anonymized", 0.8, 0.90, half_width=0.1)]
    s = degree_summary(rows)
    assert s["gap_beyond_noise"] is False
    assert s["anonymized_queries"] == dict(pairs=1, rose=0, beyond_noise=0, mean_change=pytest.approx(-0.05))
