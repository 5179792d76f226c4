import numpy as np
import pytest

from anonjax.downstream import knn_accuracy, knn_predict


def _numpy_knn(train, labels, test, k, temperature):
    """The DINOv2 weighted vote, written out in float64: exp(s / T) itself, with no shift."""
    train, test = np.asarray(train, np.float64), np.asarray(test, np.float64)
    train = train / np.linalg.norm(train, axis=1, keepdims=True)
    test = test / np.linalg.norm(test, axis=1, keepdims=True)
    sims = test @ train.T
    pred = []
    for row in sims:
        top = np.argsort(-row, kind="stable")[:k]
        votes = np.zeros(labels.max() + 1)
        np.add.at(votes, labels[top], np.exp(row[top] / temperature))
        pred.append(votes.argmax())
    return np.array(pred)


def test_weights_decide_over_counts():
    # Two neighbours of class 1 at similarity 0.6 against one of class 0 at similarity 1.0:
    # exp(1/0.07) > 2 exp(0.6/0.07), so class 0 wins with the DINO weighting, a plain vote would pick class 1.
    train = np.array([[1.0, 0.0], [0.6, 0.8], [0.6, 0.8]], np.float32)
    labels = np.array([0, 1, 1])
    assert knn_predict(train, labels, np.array([[1.0, 0.0]], np.float32), k=3)[0] == 0
    assert knn_predict(train, labels, np.array([[1.0, 0.0]], np.float32), k=3, temperature=100.0)[0] == 1


def test_matches_numpy_transcription():
    rng = np.random.default_rng(0)
    train, test = rng.normal(size=(300, 16)).astype(np.float32), rng.normal(size=(50, 16)).astype(np.float32)
    labels = rng.integers(0, 5, size=300)
    expected = _numpy_knn(train, labels, test, 20, 0.07)
    np.testing.assert_array_equal(knn_predict(train, labels, test, k=20, chunk_size=16), expected)
    test_labels = rng.integers(0, 5, size=50)
    assert knn_accuracy(train, labels, test, test_labels) == pytest.approx(np.mean(expected == test_labels))


def test_bad_labels():
    x = np.ones((4, 2), np.float32)
    with pytest.raises(ValueError, match="train_labels"):
        knn_predict(x, np.array([0, 1, -1, 0]), x)
    with pytest.raises(ValueError, match="test_labels"):
        knn_accuracy(x, np.array([0, 1, 1, 0]), x, np.array([0, 1]))


def _separated(rng, n_per_class, classes=4, dim=8, noise=0.05):
    """Clusters around orthogonal directions: every neighbour of a point shares its class."""
    labels = np.repeat(np.arange(classes), n_per_class)
    return (np.eye(dim)[labels] + noise * rng.normal(size=(len(labels), dim))).astype(np.float32), labels


def test_small_temperature_does_not_overflow():
    # exp(s / 0.005) is about exp(200) for s near 1, far beyond float32: without a shift every vote is inf or NaN.
    rng = np.random.default_rng(1)
    train, labels = _separated(rng, 30)
    test, test_labels = _separated(rng, 10)
    for temperature in (0.005, 0.01, 0.07):
        assert knn_accuracy(train, labels, test, test_labels, k=20, temperature=temperature) == 1.0


@pytest.mark.parametrize("temperature", [0.005, 0.011, 0.07, 1.0])
def test_matches_float64_reference_at_every_temperature(temperature):
    rng = np.random.default_rng(2)
    train, test = rng.normal(size=(200, 12)).astype(np.float32), rng.normal(size=(60, 12)).astype(np.float32)
    labels = rng.integers(0, 6, size=200)
    expected = _numpy_knn(train, labels, test, 10, temperature)
    np.testing.assert_array_equal(knn_predict(train, labels, test, k=10, temperature=temperature), expected)


def test_huge_float64_embeddings_vote_like_their_unit_rows():
    # Finite float64 values near 1e300 are inf in float32: they are normalized before any cast.
    rng = np.random.default_rng(3)
    train, labels = rng.normal(size=(50, 8)), rng.integers(0, 3, size=50)
    test = rng.normal(size=(20, 8))
    expected = knn_predict(train.astype(np.float32), labels, test.astype(np.float32), k=5)
    np.testing.assert_array_equal(knn_predict(train * 1e300, labels, test * 1e300, k=5), expected)


@pytest.mark.parametrize("temperature", [0, -0.07, float("nan"), float("inf"), True, "0.07"])
def test_bad_temperature(temperature):
    x = np.eye(3, dtype=np.float32)
    with pytest.raises(ValueError, match="temperature must be a positive number"):
        knn_predict(x, np.array([0, 1, 2]), x, k=2, temperature=temperature)
