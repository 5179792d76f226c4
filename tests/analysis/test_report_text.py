import pytest

from anonjax.analysis.findings import INDISTINGUISHABLE, findings
from anonjax.analysis.html import markdown_to_html


def _row(model, method, queries, map_, mndcg):
    return dict(model=model, method=method, degree=1.0, queries=queries, map=map_, mndcg=mndcg)


def _difference(diff, low, high):
    return dict(diff=diff, low=low, high=high, separated=low > 0 or high < 0)


SUMMARY = dict(
    degree=1.0,
    correlation="correlation_100.csv",
    chance=dict(map=0.05, mndcg=0.62),
    control=dict(map=0.8, mndcg=0.9),
    best=_row("unadapted", "blur", "original", 0.9, 0.95),
    worst=_row("A", "mask", "original", 0.2, 0.60),
    gap=_difference(0.35, 0.3, 0.4),
    anonymized_queries=dict(pairs=3, rose=1, fell=1, mean_change=0.045),
    methods=[dict(method="blur", mndcg=0.925, next=_difference(0.01, -0.01, 0.03)),
             dict(method="pixel", mndcg=0.915, next=_difference(0.26, 0.2, 0.3)),
             dict(method="mask", mndcg=0.65, next=None)],
    adaptation=[dict(method="mask", model="B", mndcg=0.7, unadapted=0.6, retraining_noise=0.02, beyond_retraining=True,
                     **_difference(0.1, 0.08, 0.12))],
    linkage=dict(low=0.5, high=0.9, model="A", method="mask"),
    probes=dict(best_knn=dict(model="A", method="mask", knn=0.7, interval=(0.6, 0.78), n=100,
                              runner_up=dict(model="B", method="mask", knn=0.65), separated=False)),
    with_accuracy=[dict(accuracy="k-NN", metric="mnDCG (anonymized)", r=-0.2, n=15, interval=(-0.65, 0.35), tests=3),
                   dict(accuracy="k-NN", metric="mAP (original)", r=-0.9, n=15, interval=(-0.97, -0.72), tests=3),
                   dict(accuracy="Linear", metric="mAP (anonymized)", r=0.8, n=15, interval=(0.49, 0.93), tests=3)],
)


def test_findings_render_the_summary_with_its_noise():
    text = findings(SUMMARY)
    assert text[0] == ("A random ranking would score mAP 5.0% and mnDCG 62.0% (the chance level): read every score "
                       "against it.")
    assert "the control (the Unadapted recipe, another seed) scores mAP 80.0%, mnDCG 90.0%" in text[1]
    assert "closest to the original system with Unadapted/blur and original queries" in text[2]
    assert text[2].endswith("the mnDCG gap (+35.0 points, 95% interval +30.0 to +40.0) is beyond the noise.")
    assert ("raises mnDCG beyond the noise in 1 of 3 model/method pairs, lowers it in 1, and is indistinguishable "
            "at this size in 1 (mean change +4.5 points)") in text[3]
    assert text[4].endswith("blur (92.5%) ≈ pixel (91.5%) > mask (65.0%).")
    assert "Adapting to mask: the best adapted model, Adaption B, scores mnDCG 70.0%" in text[5]
    assert "larger than the retraining noise (2.00 points)" in text[5]
    assert "between 50.0% and 90.0%" in text[6] and "highest for Adaption A/mask" in text[6]
    assert "Adaption A/mask: 70.0% (95% interval 60.0-78.0%, 100 test images)" in text[7]
    assert text[7].endswith(f"the runner-up, Adaption B/mask (65.0%), is {INDISTINGUISHABLE}.")


def test_the_correlation_sentence_keeps_the_sign():
    """The metric named is the one that rises most with accuracy, never the one with the largest |r|."""
    knn, linear = findings(SUMMARY)[-2:]
    assert "no retrieval metric rises with k-NN accuracy; the highest correlation is mnDCG (anonymized)'s " \
           "(Pearson r -0.20" in knn
    assert "mAP (original)" not in knn
    assert knn.endswith("no correlation is distinguishable from zero at this size.")
    assert linear == ("Across 15 model/method pairs, the retrieval metric that rises most with Linear accuracy is "
                      "mAP (anonymized) (Pearson r +0.80, 95% interval +0.49 to +0.93, Bonferroni-adjusted for the 3 "
                      "correlations tested).")


def test_a_highest_correlation_below_zero_says_every_metric_falls():
    """The highest r is negative and its interval, adjusted for the family, excludes zero: so do the others'."""
    summary = {**SUMMARY, "with_accuracy": [
        dict(accuracy="k-NN", metric="mnDCG (original)", r=-0.72, n=15, interval=(-0.94, -0.12), tests=8),
        dict(accuracy="k-NN", metric="mAP (original)", r=-0.9, n=15, interval=(-0.98, -0.55), tests=8)]}
    knn = findings(summary)[-1]
    assert knn == ("Across 15 model/method pairs, no retrieval metric rises with k-NN accuracy; the highest "
                   "correlation is mnDCG (original)'s (Pearson r -0.72, 95% interval -0.94 to -0.12, "
                   "Bonferroni-adjusted for the 8 correlations tested): every retrieval metric falls as k-NN "
                   "accuracy rises, beyond the noise.")


@pytest.mark.parametrize("adaptation", [
    dict(separated=False, beyond_retraining=None, expected=INDISTINGUISHABLE),
    dict(separated=True, beyond_retraining=False, expected="within the retraining noise (2.00 points)"),
    dict(separated=True, beyond_retraining=None, expected="beyond the sampling noise (no control"),
])
def test_a_model_difference_inside_the_noise_says_so(adaptation):
    expected = adaptation.pop("expected")
    summary = dict(SUMMARY, adaptation=[{**SUMMARY["adaptation"][0], **adaptation}])
    sentence = next(s for s in findings(summary) if s.startswith("Adapting to mask"))
    assert expected in sentence and "beyond the noise:" not in sentence


def test_findings_leave_out_what_the_summary_lacks():
    lean = {k: v for k, v in SUMMARY.items() if k not in ("anonymized_queries", "probes", "with_accuracy",
                                                            "control", "adaptation")}
    lean.update(methods=SUMMARY["methods"][2:], gap=_difference(0.01, -0.01, 0.03))
    text = findings(lean)
    assert len(text) == 3
    assert text[1].endswith(f"is {INDISTINGUISHABLE}.")
    assert text[2].startswith("Linkage risk")
    assert findings({}) == []


def test_html_escapes_result_text_and_renders_tables():
    page = markdown_to_html("# T <x>\n\n| a | b |\n|---|---|\n| **1** | <script> |\n\n- item\n\n![alt](f.png)", "T")
    assert "<h1>T &lt;x&gt;</h1>" in page
    assert "<th>a</th><th>b</th>" in page and "<td><b>1</b></td><td>&lt;script&gt;</td>" in page
    assert "<ul><li>item</li></ul>" in page and '<img src="f.png" alt="alt">' in page
    assert "<script>" not in page
