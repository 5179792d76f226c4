"""A static HTML page from the report's Markdown (headings, paragraphs, lists, tables, images, emphasis).

Only the subset the report writes is understood, with CommonMark's backslash escapes (text from data arrives
escaped by ``anonjax.analysis.markdown_text.literal``); everything is HTML-escaped, so result text cannot inject
markup, and an image is shown only from a relative path beside the report: the page never loads a remote resource.
"""

from __future__ import annotations

import html
import re

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
code { background: #f4f4f4; padding: 0 0.2em; }
"""


_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")  # a backslash before ASCII punctuation: that character, as text
_LOCAL = re.compile(r"[\w.-]+(/[\w.-]+)*")  # a relative path without a scheme, host or absolute root


def _inline(text: str) -> str:
    """``text`` with emphasis and code spans as HTML; escaped characters stay text."""
    literals: list[str] = []

    def hold(match: re.Match) -> str:
        literals.append(html.escape(match.group(1)))
        return f"\0{len(literals) - 1}\0"

    text = html.escape(_ESCAPED.sub(hold, text.replace("\0", "\ufffd")))
    text = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", text)
    text = re.sub(r"\*(.+?)\*", r"<i>\1</i>", text)
    text = re.sub(r"`(.+?)`", r"<code>\1</code>", text)
    return re.sub(r"\0(\d+)\0", lambda m: literals[int(m.group(1))], text)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]


def markdown_to_html(markdown: str, title: str) -> str:
    """A complete HTML document for ``markdown``."""
    body: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(lines[i])
                i += 1
            head, rest = rows[0], [r for r in rows[1:] if not set(r) <= set("|-: ")]
            body.append("<table><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in _cells(head)) + "</tr>")
            body += ["<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in _cells(r)) + "</tr>" for r in rest]
            body.append("</table>")
            continue
        if line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            body.append("<ul>" + "".join(items) + "</ul>")
            continue
        heading = re.match(r"^(#{1,4}) (.*)", line)
        image = re.match(r"^!\[(.*?)\]\((.*?)\)$", line.strip())
        if image and not _LOCAL.fullmatch(image.group(2)):
            image = None  # shown as text: only figures beside the report are loaded
        if heading:
            level = len(heading.group(1))
            body.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif image:
            alt, src = html.escape(_ESCAPED.sub(r"\1", image.group(1))), html.escape(image.group(2))
            body.append(f'<figure><img src="{src}" alt="{alt}"><figcaption>{alt}</figcaption></figure>')
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
        i += 1
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{_STYLE}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
