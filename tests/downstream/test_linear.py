import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from anonjax.downstream import linear_probe_accuracy
from anonjax.downstream.linear import fit_logistic


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centers = rng.normal(size=(3, 8)) * 2
    y = rng.integers(0, 3, size=240)
    x = (centers[y] + rng.normal(size=(240, 8))).astype(np.float32)
    return x, y


@pytest.mark.parametrize("c", [0.1, 1.0])
def test_fit_matches_scikit_learn(blobs, c):
    x, y = blobs
    w, b = fit_logistic(jnp.asarray(x), jnp.eye(3)[y], jnp.float32(c), max_iter=2000, tol=1e-8)
    ref = LogisticRegression(C=c, tol=1e-10, max_iter=10_000).fit(x, y)
    # scikit-learn's multinomial fit leaves the unpenalized intercept free up to a constant shift.
    np.testing.assert_allclose(np.asarray(w).T, ref.coef_, atol=2e-3)
    np.testing.assert_allclose(np.asarray(b) - np.mean(b), ref.intercept_ - ref.intercept_.mean(), atol=2e-3)
    np.testing.assert_array_equal(np.argmax(x @ np.asarray(w) + np.asarray(b), 1), ref.predict(x))


@pytest.mark.slow
def test_probe_accuracy_on_separable_and_random_labels(blobs):
    x, y = blobs
    assert linear_probe_accuracy(x[:160], y[:160], x[160:], y[160:]) > 0.9
    shuffled = np.random.default_rng(1).permutation(y)
    # Labels unrelated to the embeddings: no better than chance by a wide margin.
    assert linear_probe_accuracy(x[:160], shuffled[:160], x[160:], shuffled[160:]) < 0.6


def test_probe_rejects_misaligned_labels(blobs):
    x, y = blobs
    with pytest.raises(ValueError, match="one label per row"):
        linear_probe_accuracy(x, y[:-1], x, y)
