"""The paper's correlations are over its model x method points; a retraining control is shown apart."""

from anonjax.analysis.correlation import is_control, metrics_across_models


def _rows(models, methods):
    scenarios, downstream = [], []
    for i, model in enumerate(models):
        for j, method in enumerate(methods):
            value = 0.1 * i + 0.01 * j
            downstream.append({"model": model, "method": method, "knn": value, "linear": value})
            for kind in ("original", "anonymized"):
                scenarios.append({"model": model, "method": method, "queries": kind, "map": value, "mndcg": value})
    return scenarios, downstream


def test_twelve_points_without_the_control_and_the_control_apart():
    models = ["unadapted", "A-pixel", "B-pixel", "C-pixel", "control", "control2"]
    scenarios, downstream = _rows(models, ["pixel", "blur", "mask"])
    points = metrics_across_models(scenarios, downstream)
    assert len(points["k-NN"]) == 4 * 3
    controls = metrics_across_models(scenarios, downstream, controls=True)
    assert len(controls["k-NN"]) == 2 * 3
    assert sorted(controls["mAP (original)"]) == sorted(0.1 * i + 0.01 * j for i in (4, 5) for j in range(3))


def test_control_names():
    assert is_control("control") and is_control("control3")
    assert not is_control("unadapted") and not is_control("C-blur") and not is_control("controlled")
