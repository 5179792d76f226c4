"""The privacy sample is a pure function of (seed, ids)."""

import pytest

from anonjax.privacy.sample import privacy_sample

IDS = [f"val/letter/{i:06d}" for i in range(40)]


def test_sample_is_seeded_sorted_and_order_free():
    first = privacy_sample(0, IDS, 6)
    assert first == privacy_sample(0, IDS, 6) and first == sorted(first) and len(set(first)) == 6
    assert first != privacy_sample(1, IDS, 6)
    shuffled = IDS[::-1]
    assert sorted(shuffled[i] for i in privacy_sample(0, shuffled, 6)) == [IDS[i] for i in first]


def test_sample_takes_all_when_fewer_and_keeps_members_when_ids_are_added():
    assert privacy_sample(3, IDS[:4], 6) == [0, 1, 2, 3]
    assert privacy_sample(3, IDS, 0) == []
    before = {IDS[i] for i in privacy_sample(5, IDS, 10)}
    grown = [*IDS, *(f"val/memo/{i:06d}" for i in range(10))]
    after = {grown[i] for i in privacy_sample(5, grown, 10)}
    assert after - before <= set(grown[40:])  # only new ids can displace a member
    with pytest.raises(ValueError, match="unique"):
        privacy_sample(0, ["a", "a"], 1)
    with pytest.raises(ValueError, match="count"):
        privacy_sample(0, IDS, -1)
