"""A linear probe: multinomial logistic regression on frozen embeddings.

Features are standardized with the training mean and deviation. The L2 strength is chosen from a few candidates
on a seeded held-out part of the training embeddings, then the classifier is refit on all of them. The
objective is scikit-learn's ``LogisticRegression`` one, ``C * sum(cross-entropy) + |W|^2 / 2``, minimized
with L-BFGS on device, all candidates at once.
"""

from __future__ import annotations

import math
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import optax

DEFAULT_CS = (0.01, 0.1, 1.0, 10.0)


def _logits(params, x):
    """Class logits in float32 (``HIGHEST``: by default a TPU multiplies float32 matrices in bfloat16 passes)."""
    w, b = params
    return jnp.matmul(x, w, precision=jax.lax.Precision.HIGHEST) + b


def _objective(params, x, onehot, c):
    w, _ = params
    logits = _logits(params, x)
    ce = -jnp.sum(onehot * jax.nn.log_softmax(logits))
    return c * ce + 0.5 * jnp.sum(w * w)


@partial(jax.jit, static_argnames=("max_iter",))
def fit_logistic(x, onehot, c, *, max_iter: int = 500, tol: float = 1e-6):
    """Weights [D, K] and bias [K] minimizing the scikit-learn objective for strength ``c``."""
    d, k = x.shape[1], onehot.shape[1]
    params = (jnp.zeros((d, k), x.dtype), jnp.zeros((k,), x.dtype))
    solver = optax.lbfgs()
    loss = partial(_objective, x=x, onehot=onehot, c=c)
    value_and_grad = optax.value_and_grad_from_state(loss)

    def step(carry):
        params, state, _ = carry
        value, grad = value_and_grad(params, state=state)
        updates, state = solver.update(grad, state, params, value=value, grad=grad, value_fn=loss)
        return optax.apply_updates(params, updates), state, grad

    def not_done(carry):
        _, state, grad = carry
        iteration = optax.tree.get(state, "count")
        scale = 1.0 + c * x.shape[0]
        return (iteration == 0) | ((iteration < max_iter) & (optax.tree.norm(grad) / scale > tol))

    init = (params, solver.init(params), params)
    params, _, _ = jax.lax.while_loop(not_done, step, init)
    return params


def _standardize(train, *others):
    """Features standardized with the training mean and deviation, cast to float32 for the fit.

    All arrays are first multiplied by one power of two (exact) that puts the training magnitudes below 1, and
    kept in their own precision until the end, so float64 values such as 1e300 neither overflow the variance
    nor become inf in float32; embeddings that differ by such a factor give the same features."""
    exponent = math.frexp(float(np.abs(train).max()))[1]
    train, *others = (np.ldexp(a, -exponent) for a in (train, *others))
    mean = train.mean(axis=0)
    std = train.std(axis=0) + 1e-6
    return [((a - mean) / std).astype(np.float32) for a in (train, *others)]


def _accuracy(params, x, y) -> float:
    return float(jnp.mean(jnp.argmax(_logits(params, x), axis=1) == y))


def linear_probe_accuracy(
    train_emb,
    train_labels,
    test_emb,
    test_labels,
    *,
    cs: tuple[float, ...] = DEFAULT_CS,
    val_fraction: float = 0.2,
    seed: int = 0,
    max_iter: int = 500,
) -> float:
    """Test accuracy of a logistic regression whose strength ``C`` is chosen on held-out training rows."""
    dtype = np.promote_types(np.result_type(train_emb, test_emb), np.float32)
    train_emb = np.asarray(train_emb, dtype)
    test_emb = np.asarray(test_emb, dtype)
    train_labels = np.asarray(train_labels)
    test_labels = np.asarray(test_labels)
    if len(train_emb) != len(train_labels) or len(test_emb) != len(test_labels):
        raise ValueError("each embedding array needs one label per row")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    onehot = np.eye(num_classes, dtype=np.float32)

    order = np.random.default_rng(seed).permutation(len(train_emb))
    n_val = max(1, round(val_fraction * len(order)))
    fit_rows, val_rows = order[n_val:], order[:n_val]
    x_fit, x_val = _standardize(train_emb[fit_rows], train_emb[val_rows])
    fits = jax.vmap(lambda c: fit_logistic(x_fit, onehot[train_labels[fit_rows]], c, max_iter=max_iter))(
        jnp.asarray(cs, jnp.float32)
    )
    y_val = train_labels[val_rows]
    val_acc = [_accuracy(jax.tree.map(lambda p, i=i: p[i], fits), x_val, y_val) for i in range(len(cs))]
    best_c = cs[int(np.argmax(val_acc))]

    x_train, x_test = _standardize(train_emb, test_emb)
    params = fit_logistic(x_train, onehot[train_labels], jnp.float32(best_c), max_iter=max_iter)
    return _accuracy(params, x_test, test_labels)
