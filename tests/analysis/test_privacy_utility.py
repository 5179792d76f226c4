"""The privacy-utility trade-off on hand-made results: the points, the Pareto front, and the sentences the
report writes from them."""

import pytest

from anonjax.analysis.privacy_utility import best_below, front_sentence, pareto_front, points, residual_column
from anonjax.privacy.outcome import Measured, Missing, Ratio
from anonjax.privacy.table import COLUMNS, variant_row, with_linkage


def privacy_row(model, method, degree, text, faces=None, missing=""):
    return {"model": model, "method": method, "degree": degree, "text_words_readable": text,
            "text_words_readable_lo": None if text is None else max(0.0, text - 0.01),
            "text_words_readable_hi": None if text is None else min(1.0, text + 0.01),
            "faces_redetected": faces, "missing": missing}


def scenario(model, method, degree, mndcg, queries="original"):
    return {"model": model, "method": method, "degree": degree, "queries": queries, "mndcg": mndcg,
            "mndcg_low": mndcg - 0.002, "mndcg_high": mndcg + 0.002, "linkage": 0.5, "n": 100}


ROWS = [privacy_row("unadapted", "pixel", 1.0, 0.004), privacy_row("A", "pixel", 1.0, 0.004),
        privacy_row("unadapted", "mask", 1.0, 0.0), privacy_row("A", "mask", 1.0, 0.0),
        privacy_row("unadapted", "blur", 1.0, 0.30), privacy_row("unadapted", "pixel", 0.5, 0.45)]
SCENARIOS = [scenario("unadapted", "pixel", 1.0, 0.80), scenario("A", "pixel", 1.0, 0.90),
             scenario("unadapted", "mask", 1.0, 0.70), scenario("A", "mask", 1.0, 0.85),
             scenario("unadapted", "blur", 1.0, 0.95), scenario("unadapted", "pixel", 0.5, 0.93),
             scenario("A", "pixel", 1.0, 0.99, queries="anonymized")]  # not the utility: anonymized queries


def test_points_take_mndcg_with_original_queries():
    pts = points(ROWS, SCENARIOS, "text_words_readable")
    assert len(pts) == 6
    a_pixel = next(p for p in pts if p.model == "A" and p.method == "pixel")
    assert a_pixel.mndcg == 0.90 and a_pixel.residual == 0.004


def test_pareto_front_keeps_the_undominated_settings():
    pts = points(ROWS, SCENARIOS, "text_words_readable")
    front = [(pts[i].model, pts[i].method, pts[i].degree) for i in pareto_front(pts)]
    # A/mask (0 %, 0.85), A/pixel (0.4 %, 0.90), Unadapted/blur (30 %, 0.95); Unadapted/pixel 50 % is beaten by
    # blur (less text, more mnDCG); Unadapted/mask and Unadapted/pixel 100 % by A's.
    assert front == [("A", "mask", 1.0), ("A", "pixel", 1.0), ("unadapted", "blur", 1.0)]


def test_front_sentence_names_the_front_and_the_cost_of_the_least_revealing():
    sentence = front_sentence(points(ROWS, SCENARIOS, "text_words_readable"), "text_words_readable")
    assert sentence.startswith("On the privacy-utility front (3 of 6 settings): Adaption A, mask 100%")
    assert "The least-revealing setting, Adaption A, mask 100%" in sentence
    assert "costs 10.0 mnDCG points against the most useful, Unadapted, blur 100%" in sentence


def test_what_this_means_picks_the_most_useful_setting_below_the_limit():
    sentence = best_below(ROWS, SCENARIOS, 0.01)
    assert "Among the 4 setting(s) that keep the readable text below 1.0%" in sentence
    assert "Adaption A, pixel 100% retrieves best: mnDCG 90.0%" in sentence
    assert "the runner-up, " in sentence  # the choice comes with the noise against the next setting
    assert "Adaption A, mask 100% retrieves best" in best_below(ROWS, SCENARIOS, 0.001)  # only the masks are below
    assert "Unadapted, blur 100% retrieves best" in best_below(ROWS, SCENARIOS, 0.4)


def test_a_setting_whose_interval_reaches_the_limit_is_not_shown_below_it():
    assert "interval reaches 1.4%: at this sample size the measure does not show it below 1.0%" in best_below(
        ROWS, SCENARIOS, 0.01)  # Adaption A, pixel 100%: 0.4% read, interval up to 1.4%
    assert "interval reaches" not in best_below(ROWS, SCENARIOS, 0.4)  # blur: 30% [29%, 31%], below 40%


def test_what_this_means_when_nothing_is_below_or_text_is_missing():
    assert best_below(ROWS, SCENARIOS, 0.0).startswith("No setting keeps the readable text below 0.0%")
    missing = [privacy_row("unadapted", "mask", 1.0, None, faces=0.0,
                           missing="text_words_readable: OCR unavailable: not installed (3 of 3 images)")]
    sentence = best_below(missing, SCENARIOS, 0.01)
    assert sentence.startswith("Residual text was not measured (OCR unavailable: not installed (3 of 3 images))")
    assert residual_column(missing) == "faces_redetected"  # the chart falls back to faces


def test_a_measure_that_cannot_run_is_empty_with_its_reason_never_zero():
    text = Measured({"words": Ratio(0, 0), "similarity": Ratio(0, 0), "words_in_boxes": Ratio(0, 0),
                     "similarity_in_boxes": Ratio(0, 0)})
    failed = Missing("face detector failed: RuntimeError: boom")
    outcomes = [{"text": text, "faces": failed, "codes": Measured({"codes": Ratio(1, 2)}),
                 "mrz": Measured({"mrz": Ratio(0, 0)})}] * 2
    row = variant_row("mask", 1.0, outcomes)
    assert row["faces_redetected"] is None and row["faces_redetected_lo"] is None and row["faces_redetected_n"] == 0
    assert "faces_redetected: face detector failed: RuntimeError: boom (2 of 2 images)" in row["missing"]
    assert row["text_words_readable"] is None  # nothing to count is empty too, with its reason
    assert "text_words_readable: no words read on the originals" in row["missing"]
    assert row["codes_decoded"] == 0.5 and row["codes_decoded_n"] == 4
    assert row["codes_decoded_lo"] < 0.5 < row["codes_decoded_hi"]
    [alone] = with_linkage([row], None)
    assert tuple(alone) == COLUMNS and alone["model"] == "" and alone["linkage"] is None
    assert "linkage: no evaluate results" in alone["missing"]
    linked = with_linkage([row], [scenario("A", "mask", 1.0, 0.8), scenario("A", "mask", 1.0, 0.8, "anonymized")])
    assert [(r["model"], r["linkage"], r["linkage_n"]) for r in linked] == [("A", 0.5, 100)]
    assert linked[0]["linkage_lo"] == pytest.approx(0.404, abs=1e-3)
