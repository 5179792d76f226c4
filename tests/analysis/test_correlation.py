import numpy as np
import pytest

from anonjax.analysis import pearson_matrix, save_correlation


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


def test_saves_csv_and_png(tmp_path):
    names, matrix = pearson_matrix({"x": [1, 2, 3], "y": [1, 3, 2]})
    save_correlation(names, matrix, tmp_path / "corr", title="t")
    lines = (tmp_path / "corr.csv").read_text().splitlines()
    assert lines[0] == "metric,x,y"
    assert lines[1] == "x,1.0000,0.5000"
    assert (tmp_path / "corr.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
