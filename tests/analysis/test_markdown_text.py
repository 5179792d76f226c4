"""Text from data in the report's Markdown renders as the same text: a file name cannot add a heading, an image
(least of all a remote one), a script or a code span to ``index.html``."""

import html

from anonjax.analysis.anonymization_summary import _left_out_lines
from anonjax.analysis.html import markdown_to_html
from anonjax.analysis.markdown_text import literal

EVIL = "scan\n![x](http://evil/x.png)\n# heading\n<script>alert(1)</script> `rm -rf` *bold* | cell\\.png"


def body(page: str) -> str:
    return page.split("<body>", 1)[1]


def test_a_file_name_in_the_left_out_list_is_text():
    split = {"skipped": [{"file": EVIL, "reason": "not a readable image: " + EVIL}], "failed": {EVIL: "gone"},
             "multi_page": [{"file": EVIL, "pages": 2}]}
    page = body(markdown_to_html("\n".join(["# Anonymization", *_left_out_lines(split)]), "report"))
    assert "<img" not in page and "<script" not in page and "<code>" not in page and "<b>" not in page
    assert page.count("<h1>") == 1 and "<h2>" not in page and "<table>" not in page
    shown = html.escape(EVIL.replace("\n", "\\n"))
    assert page.count(shown) == 4  # a skipped file's name and reason, a failed id, a multi-page file
    assert page.count("<li>") == 3


def test_literal_keeps_every_character():
    for text in (EVIL, "plain name.png", "a\\*b", "tab\there", "ü/ñ 名前.png"):
        rendered = body(markdown_to_html(f"File {literal(text)} read.", "t"))
        assert rendered.strip().removesuffix("</body></html>").strip() == \
            f"<p>File {html.escape(''.join(c if c.isprintable() else repr(c)[1:-1] for c in text))} read.</p>"


def test_the_page_never_loads_a_remote_image():
    for src in ("http://evil/x.png", "https://evil/x.png", "//evil/x.png", "/etc/x.png", "file:///x.png",
                "javascript:alert(1)"):
        page = body(markdown_to_html(f"![x]({src})", "t"))
        assert "<img" not in page and html.escape(src) in page
    assert '<img src="figures/a_b-1.png"' in markdown_to_html("![x](figures/a_b-1.png)", "t")
