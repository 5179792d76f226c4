import numpy as np
import pytest

from anonjax.downstream import knn_accuracy, knn_predict


def _numpy_knn(train, labels, test, k, temperature):
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
