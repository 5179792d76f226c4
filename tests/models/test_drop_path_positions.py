"""Drop path draws from each group's position in the global batch: a slice of groups computed alone (a
micro-batch, a device) drops what the whole batch drops there."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from anonjax.models import vit


@pytest.mark.parametrize("rate", [0.4, 0.1], ids=["batch_subsets", "per_sample"])
def test_a_slice_of_groups_drops_what_the_whole_batch_drops(rate):
    x = jnp.asarray(np.random.default_rng(0).normal(size=(128, 3, 2)), jnp.float32)
    key = jax.random.key(7)
    whole = vit._residual(x, jnp.ones_like, rate, True, key, groups=8)  # groups of 16 rows
    part = vit._residual(x[48:80], jnp.ones_like, rate, True, key, groups=2, group_ids=jnp.asarray([3, 4]))
    np.testing.assert_array_equal(part, whole[48:80])
    shifted = vit._residual(x[48:80], jnp.ones_like, rate, True, key, groups=2)  # as if it were groups 0 and 1
    assert not np.array_equal(shifted, whole[48:80])


def test_the_dense_batch_subsets_equal_the_gathered_ones_and_their_gradient():
    """Run on every row and kept where the subset is, the branch adds what it adds run on the subset alone."""
    x = jnp.asarray(np.random.default_rng(1).normal(size=(32, 3, 2)), jnp.float32)
    w = jnp.asarray(np.random.default_rng(2).normal(size=(2, 2)), jnp.float32)
    key = jax.random.key(3)

    def out(x, w, dense):
        return vit._residual(x, lambda y: jnp.tanh(y @ w), 0.4, True, key, groups=4, dense=dense)

    gathered, dense = out(x, w, False), out(x, w, True)
    np.testing.assert_allclose(dense, gathered, rtol=1e-6, atol=1e-7)
    assert not np.allclose(gathered, x + jnp.tanh(x @ w))  # a subset was dropped
    grads = [jax.grad(lambda x, w, d=d: jnp.sum(out(x, w, d) ** 2), argnums=(0, 1))(x, w) for d in (False, True)]
    jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5), *grads)  # sums reordered
