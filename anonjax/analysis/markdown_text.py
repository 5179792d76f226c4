"""Text from data (file names, image ids, error reasons) as Markdown that reads as itself.

A file name may hold a newline, ``# heading``, ``![x](http://...)`` or ``<script>``; put into Markdown as it is,
it would become markup. ``literal`` keeps it on one line and backslash-escapes every character Markdown
(CommonMark, and the subset ``anonjax.analysis.html`` renders) gives a meaning to.
"""

from __future__ import annotations

import re

_MARKUP = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~$&:\"])")


def literal(text: object) -> str:
    """``text`` as Markdown that renders as the same characters: unprintable ones (newlines, tabs) shown as
    their escapes (``\\n``), Markdown punctuation backslash-escaped."""
    shown = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    return _MARKUP.sub(r"\\\1", shown)
