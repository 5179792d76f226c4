"""Levenshtein distance and character similarity on cases worked out by hand."""

import pytest

from anonjax.privacy.edit_distance import levenshtein, similarity


@pytest.mark.parametrize(("a", "b", "distance"), [
    ("kitten", "sitting", 3),  # k->s, e->i, insert g
    ("flaw", "lawn", 2),  # delete f, insert n
    ("intention", "execution", 5),
    ("", "abc", 3),
    ("abc", "", 3),
    ("abc", "abc", 0),
    ("ab", "ba", 2),  # no transpositions: two substitutions
    ("Mustermann", "Musterman", 1),
])
def test_levenshtein(a, b, distance):
    assert levenshtein(a, b) == distance
    assert levenshtein(b, a) == distance


def test_similarity_is_one_minus_normalized_distance():
    assert similarity("kitten", "sitting") == pytest.approx(1 - 3 / 7)
    assert similarity("flaw", "lawn") == pytest.approx(0.5)
    assert similarity("abc", "abc") == 1.0
    assert similarity("abc", "xyz") == 0.0
    assert similarity("", "") == 1.0
    assert similarity("", "abcd") == 0.0
