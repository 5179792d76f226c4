from anonjax.analysis.findings import findings
from anonjax.analysis.html import markdown_to_html


def _row(model, method, queries, map_, mndcg):
    return dict(model=model, method=method, degree=1.0, queries=queries, map=map_, mndcg=mndcg)


SUMMARY = dict(
    degree=1.0,
    correlation="correlation_100.csv",
    best=_row("unadapted", "blur", "original", 0.9, 0.95),
    worst=_row("A", "mask", "original", 0.2, 0.60),
    gap_beyond_noise=True,
    anonymized_queries=dict(pairs=2, rose=1, beyond_noise=1, mean_change=0.045),
    methods=[dict(method="blur", mndcg=0.925), dict(method="mask", mndcg=0.65)],
    linkage=dict(low=0.5, high=0.9, model="A", method="mask"),
    best_knn=dict(model="A", method="mask", knn=0.7),
    with_accuracy=[dict(metric="mnDCG (anonymized)", r=-0.9), dict(metric="mAP (original)", r=0.2)],
)


def test_findings_render_the_summary():
    text = findings(SUMMARY)
    assert text[0].startswith("Retrieval stays closest to the original system with Unadapted/blur and original")
    assert "furthest with Adaption A/mask and original queries (mAP 20.0%, mnDCG 60.0%)" in text[0]
    assert text[0].endswith("the gap is beyond the noise (their mnDCG 95% intervals do not overlap).")
    # One pair of two gains: no majority.
    assert "does not help on balance: mnDCG rises in 1 of 2 model/method pairs (mean change +4.5 points)" in text[1]
    assert text[1].endswith("beyond the noise (95% intervals apart) in 1 of them.")
    assert text[2] == "Methods ordered by mean mnDCG: blur (92.5%), mask (65.0%)."
    assert "between 50.0% and 90.0%" in text[3] and "highest for Adaption A/mask" in text[3]
    assert "from Adaption A/mask (70.0%)" in text[4]
    assert "mnDCG (anonymized) correlates most strongly" in text[5] and "r -0.90" in text[5]


def test_findings_leave_out_what_the_summary_lacks():
    lean = {k: v for k, v in SUMMARY.items() if k not in ("anonymized_queries", "best_knn", "with_accuracy")}
    lean.update(methods=SUMMARY["methods"][:1], gap_beyond_noise=False)
    text = findings(lean)
    assert len(text) == 2
    assert text[0].endswith("the gap is within the noise (their mnDCG 95% intervals overlap).")
    assert text[1].startswith("Linkage risk")
    assert findings({}) == []


def test_html_escapes_result_text_and_renders_tables():
    page = markdown_to_html("# T <x>\n\n| a | b |\n|---|---|\n| **1** | <script> |\n\n- item\n\n![alt](f.png)", "T")
    assert "<h1>T &lt;x&gt;</h1>" in page
    assert "<th>a</th><th>b</th>" in page and "<td><b>1</b></td><td>&lt;script&gt;</td>" in page
    assert "<ul><li>item</li></ul>" in page and '<img src="f.png" alt="alt">' in page
    assert "<script>" not in page
