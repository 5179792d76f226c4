"""Levenshtein distance and the character similarity built on it: how much of a string survived."""

from __future__ import annotations


def levenshtein(a: str, b: str) -> int:
    """The least number of single-character insertions, deletions and substitutions turning ``a`` into ``b``."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))  # distances from a[:0] to every prefix of b
    for i, ca in enumerate(a, start=1):
        current = [i]
        for j, cb in enumerate(b, start=1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def similarity(a: str, b: str) -> float:
    """1 - levenshtein(a, b) / max(len(a), len(b)): 1 for equal strings, 0 when no character is shared in
    place; two empty strings are equal (1)."""
    longest = max(len(a), len(b))
    return 1.0 - levenshtein(a, b) / longest if longest else 1.0
