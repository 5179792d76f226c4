import re

import numpy as np
import pytest

from anonjax.analysis import correlation_csv, load_correlation, pearson_matrix, with_accuracy
from anonjax.analysis.intervals import fisher_interval
from anonjax.analysis.plots import correlation_heatmap


def test_pearson_matches_numpy():
    rng = np.random.default_rng(0)
    metrics = {name: rng.normal(size=12) for name in ("a", "b", "c")}
    names, matrix = pearson_matrix(metrics)
    assert names == ["a", "b", "c"]
    np.testing.assert_allclose(matrix, np.corrcoef(np.stack(list(metrics.values()))), atol=1e-12)


def test_hand_computed_and_constant_metric():
    # x = (1, 2, 3), y = 2x -> r = 1; z = (3, 2, 1) -> r = -1; w constant -> undefined.
    _, matrix = pearson_matrix({"x": [1, 2, 3], "y": [2, 4, 6], "z": [3, 2, 1], "w": [5, 5, 5]})
    assert matrix[0, 1] == pytest.approx(1.0)
    assert matrix[0, 2] == pytest.approx(-1.0)
    assert np.isnan(matrix[3, 0]) and matrix[3, 3] == 1.0


def test_needs_two_models():
    with pytest.raises(ValueError, match="at least two models"):
        pearson_matrix({"x": [1.0]})


def test_csv_round_trip_keeps_undefined_cells(tmp_path):
    names, matrix = pearson_matrix({"x": [1, 2, 3], "y": [1, 3, 2], "w": [5, 5, 5]})
    text = correlation_csv(names, matrix)
    lines = text.splitlines()
    assert lines[0] == "metric,x,y,w"
    assert lines[1] == "x,1.0000,0.5000,nan"
    (tmp_path / "corr.csv").write_text(text)
    read_names, read = load_correlation(tmp_path / "corr.csv")
    assert read_names == names
    np.testing.assert_allclose(read, matrix, atol=5e-5, equal_nan=True)


@pytest.mark.parametrize("text", ["", "metric,x,y\nx,1,0.5\n", "metric,x,y\nx,1,0.5\nz,0.5,1\n",
                                  "metric,x,y\nx,1,0.5\ny,0.5,high\n"])
def test_malformed_csv_names_the_file(tmp_path, text):
    path = tmp_path / "corr.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=f"^{re.escape(str(path))} is not a correlation matrix"):
        load_correlation(path)


def test_with_accuracy_keeps_the_sign_with_points_and_interval():
    names = ["mAP (original)", "mnDCG (original)", "mAP (anonymized)", "k-NN", "Linear"]
    matrix = np.eye(5)
    matrix[0, 3:] = matrix[3:, 0] = (0.2, 0.4)
    matrix[1, 3:] = matrix[3:, 1] = (-0.8, -0.6)
    matrix[2, 3:] = matrix[3:, 2] = (np.nan, 0.9)  # undefined with k-NN: left out there
    entries = with_accuracy(names, matrix, 28)
    knn = [e for e in entries if e["accuracy"] == "k-NN"]
    assert [(e["metric"], e["r"]) for e in knn] == [("mAP (original)", 0.2), ("mnDCG (original)", -0.8)]
    # Fisher, Bonferroni-adjusted for the 5 correlations: atanh(0.2) +- 2.5758 / sqrt(25), back through tanh.
    assert all(e["tests"] == 5 for e in entries)
    assert knn[0]["n"] == 28 and knn[0]["interval"] == pytest.approx((-0.3026, 0.6156), abs=1e-4)
    linear = [e["metric"] for e in entries if e["accuracy"] == "Linear"]
    assert linear == ["mAP (anonymized)", "mAP (original)", "mnDCG (original)"]
    assert all(e["interval"] is None for e in with_accuracy(names, matrix, 3))


def test_picking_the_best_of_several_correlations_widens_its_interval():
    """r = +0.83 over 6 points clears zero as a lone 95% interval, but not as the best of 8 correlations."""
    names = ["mAP (original)", "mnDCG (original)", "mAP (anonymized)", "mnDCG (anonymized)", "k-NN", "Linear"]
    matrix = np.eye(6)
    matrix[:4, 4] = matrix[4, :4] = (0.1, -0.2, 0.3, 0.2)
    matrix[:4, 5] = matrix[5, :4] = (0.2, 0.83, 0.4, 0.5)
    top = next(e for e in with_accuracy(names, matrix, 6) if e["accuracy"] == "Linear")
    assert top["metric"] == "mnDCG (original)" and top["tests"] == 8
    assert fisher_interval(0.83, 6)[0] > 0 > top["interval"][0]


def test_heatmap_is_a_png(tmp_path):
    names, matrix = pearson_matrix({"x": [1, 2, 3], "y": [1, 3, 2], "w": [5, 5, 5]})
    correlation_heatmap(names, matrix, tmp_path / "corr.png", title="t")
    assert (tmp_path / "corr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
