from anonjax.analysis.html import markdown_to_html
from anonjax.analysis.summary import findings


def _row(model, method, queries, map_, mndcg, linkage=0.5):
    return dict(model=model, method=method, degree=1.0, queries=queries, map=map_, mndcg=mndcg, linkage=linkage)


def test_findings_follow_the_numbers():
    rows = [_row("unadapted", "blur", "original", 0.9, 0.95), _row("unadapted", "blur", "anonymized", 0.8, 0.90),
            _row("A", "mask", "original", 0.2, 0.60, linkage=0.9), _row("A", "mask", "anonymized", 0.3, 0.70)]
    text = findings(rows, [dict(model="A", method="mask", knn=0.7, linear=0.6)], {"mAP (original)": 0.2,
                                                                                  "mnDCG (anonymized)": -0.9})
    assert text[0].startswith("Retrieval stays closest to the original system with Unadapted/blur and original")
    assert "furthest with Adaption A/mask and original queries (mAP 20.0%, mnDCG 60.0%)" in text[0]
    # One pair gains (A/mask: 0.6 -> 0.7), one loses (Unadapted/blur: 0.95 -> 0.90): no majority.
    assert "does not help on balance: mnDCG rises in 1 of 2" in text[1]
    assert text[2] == "Methods ordered by mean mnDCG: blur (92.5%), mask (65.0%)."
    assert "between 50.0% and 90.0%" in text[3] and "highest for Adaption A/mask" in text[3]
    assert "from Adaption A/mask (70.0%)" in text[4]
    assert "mnDCG (anonymized) correlates most strongly" in text[5] and "r -0.90" in text[5]


def test_html_escapes_result_text_and_renders_tables():
    page = markdown_to_html("# T <x>\n\n| a | b |\n|---|---|\n| **1** | <script> |\n\n- item\n\n![alt](f.png)", "T")
    assert "<h1>T &lt;x&gt;</h1>" in page
    assert "<th>a</th><th>b</th>" in page and "<td><b>1</b></td><td>&lt;script&gt;</td>" in page
    assert "<ul><li>item</li></ul>" in page and '<img src="f.png" alt="alt">' in page
    assert "<script>" not in page
