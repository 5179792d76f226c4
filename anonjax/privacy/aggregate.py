"""One measure over a sample of images: pooled counts, a 95 % interval over the images, and the images it
missed."""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Sequence

from anonjax.analysis.intervals import clustered_wilson_interval
from anonjax.privacy.outcome import Missing, Outcome, Ratio


@dataclasses.dataclass(frozen=True)
class Aggregate:
    """Ratio ``name`` pooled over a sample.

    ``pooled`` adds the images' numerators and denominators (an image with more words weighs more);
    ``fraction`` and ``interval`` (95 %) are None when nothing was counted. The items of one page share its
    fate (a detector that misses a whole page), so the interval is Wilson's at the effective sample size of
    the images (``clustered_wilson_interval``), not at the number of items. ``images`` is the sample size,
    ``measured`` the images with the measure, ``empty`` those among them with nothing to count (a page without
    faces), ``missing`` the rest, with each distinct reason and how many images gave it, most frequent first.
    """

    name: str
    pooled: Ratio
    fraction: float | None
    interval: tuple[float, float] | None
    images: int
    measured: int
    empty: int
    missing: int
    reasons: tuple[tuple[str, int], ...]


def aggregate(outcomes: Sequence[Outcome], name: str) -> Aggregate:
    """Pool ratio ``name`` of every measured outcome; missing outcomes are counted apart, never as 0."""
    pooled, measured, empty, per_image = Ratio(0, 0), 0, 0, []
    reasons: collections.Counter[str] = collections.Counter()
    for outcome in outcomes:
        if isinstance(outcome, Missing):
            reasons[outcome.reason] += 1
            continue
        ratio = outcome.ratios[name]
        pooled += ratio
        measured += 1
        empty += ratio.total == 0
        per_image.append((ratio.hits, ratio.total))
    interval = clustered_wilson_interval(*zip(*per_image, strict=True)) if pooled.total else None
    return Aggregate(name=name, pooled=pooled, fraction=pooled.fraction, interval=interval, images=len(outcomes),
                     measured=measured, empty=empty, missing=sum(reasons.values()),
                     reasons=tuple(reasons.most_common()))
