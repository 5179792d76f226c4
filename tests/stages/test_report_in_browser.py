"""The tiny study's ``report/index.html`` opened in headless Chromium: every figure loads, the tables are there,
and no request leaves the report's folder. Skipped where no Chromium is installed."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from tiny_study import tiny_demo

from anonjax.main import run

BROWSER = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = [pytest.mark.slow, pytest.mark.skipif(BROWSER is None, reason="no Chromium installed")]

# Appended to a copy of the page: once everything has loaded, it writes what the browser loaded into the DOM.
_PROBE = """<script>
window.addEventListener("load", () => {
  const images = [...document.images].map(i => ({src: i.currentSrc, loaded: i.complete && i.naturalWidth > 0}));
  const resources = performance.getEntriesByType("resource").map(e => e.name);
  const links = [...document.querySelectorAll("[src], [href], [srcset]")].map(e => e.src || e.href || e.srcset);
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify({images, resources, links, tables: document.querySelectorAll("table").length});
  document.body.appendChild(out);
});
</script>"""


def open_in_browser(page: Path, tmp_path: Path) -> dict:
    """What headless Chromium loaded for ``page``: images with their load state, the URLs the page fetched
    (Resource Timing) and links to (every src, href and srcset), and its number of tables."""
    probed = page.with_name("probed-" + page.name)
    probed.write_text(page.read_text().replace("</body>", _PROBE + "</body>"))
    dom = subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", f"--user-data-dir={tmp_path}/p",
         "--virtual-time-budget=10000", "--dump-dom", probed.as_uri()],
        capture_output=True, text=True, timeout=120, check=True).stdout
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, dom[-2000:]
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&"))


def check_page(page: Path, tmp_path: Path) -> dict:
    """Opens ``page`` and checks every image loaded and every request stayed inside its folder."""
    probe = open_in_browser(page, tmp_path)
    folder = page.parent.as_uri() + "/"
    assert probe["images"] and all(i["loaded"] for i in probe["images"]), probe["images"]
    urls = [i["src"] for i in probe["images"]] + probe["resources"] + probe["links"]
    assert [u for u in urls if not u.startswith(folder)] == []
    return probe


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("study")
    run(tiny_demo(), workdir)
    return workdir / "report"


def test_the_report_loads_every_figure_and_table_in_a_browser(report, tmp_path):
    probe = check_page(report / "index.html", tmp_path)
    markdown = (report / "report.md").read_text()
    assert len(probe["images"]) == markdown.count("![")
    assert probe["tables"] == len(re.findall(r"^\|[ :|-]+\|$", markdown, re.M)) > 0  # one separator row a table


def test_the_check_sees_a_broken_figure_and_a_remote_request(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "index.html").write_text('<html><body><img src="missing.png"><img src="http://127.0.0.1:9/x.png">'
                                     "<table><tr><td>1</td></tr></table></body></html>")
    probe = open_in_browser(site / "index.html", tmp_path)
    assert [i["loaded"] for i in probe["images"]] == [False, False]
    assert "http://127.0.0.1:9/x.png" in probe["resources"]
    with pytest.raises(AssertionError):
        check_page(site / "index.html", tmp_path)
