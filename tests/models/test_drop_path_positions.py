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
