"""The sharded train step equals the single-device step (data-parallel and FSDP layouts, whole or accumulated)."""

import jax
import numpy as np
import pytest
from tiny_study import tiny_train

from anonjax import parallel
from anonjax.ssl.loop import compiled_programs, program_key
from anonjax.ssl.masking import batch_masks

GROUP = 2  # images per group: the micro-batches of 4 hold whole groups


@pytest.fixture(scope="module")
def views():
    c = tiny_train()
    rng = np.random.default_rng(0)
    b, g, n = c.batch_size, c.crops.global_size, (c.crops.global_size // 16) ** 2
    return {
        "global": rng.normal(size=(b, 2, g, g, 3)).astype(np.float32),
        "local": rng.normal(size=(b, c.crops.local_number, c.crops.local_size, c.crops.local_size, 3)).astype(
            np.float32
        ),
        "masks": batch_masks((0,), 2 * b, (g // 16, g // 16)).reshape(b, 2, n),
    }


def _two_steps(mesh, views, group_size: int = 0, micro_batch: int = 0):
    """State and metrics after steps 0 and 1 (the learning rate is 0 at step 0, the warmup's start), each step
    accumulated over micro-batches of ``micro_batch`` images (0: the whole batch)."""
    c = tiny_train()
    c.group_size, c.micro_batch = group_size, micro_batch
    c.drop_path_rate, c.drop_path_uniform = 0.4, True  # batch subsets: on 8 devices each group spans 2 of them
    programs = compiled_programs(mesh, program_key(c))
    assert programs.cfg.dense_drop_path == (mesh.size > 1)
    state = programs.init(None, np.uint32(0))
    batch = {k: jax.device_put(v, parallel.batch_sharding(mesh)) for k, v in views.items()}
    state, _ = programs.step(state, batch)
    state, metrics = programs.step(state, batch)
    return state, jax.device_get(metrics)


@pytest.fixture(scope="module")
def single(views):
    return jax.device_get(_two_steps(parallel.make_mesh(devices=jax.devices()[:1]), views, group_size=GROUP))


@pytest.mark.slow
@pytest.mark.parametrize(("fsdp", "micro_batch"), [(1, 0), (4, 4)],
                         ids=["data_parallel", "fsdp4_x_data2_two_micro_steps"])
def test_sharded_step_equals_single_device(single, views, fsdp, micro_batch):
    """On 8 devices, data-parallel with the whole batch, or fsdp 4 x data 2 accumulating two micro-steps of 4
    images (KoLeo, masks and drop path in groups of 2), the step of the whole batch on one device."""
    mesh = parallel.make_mesh(fsdp=fsdp)
    state, metrics = _two_steps(mesh, views, group_size=GROUP, micro_batch=micro_batch)
    if fsdp > 1:
        specs = [leaf.sharding.spec for leaf in jax.tree.leaves(state)]
        assert any(parallel.FSDP in tuple(spec) for spec in specs), "no parameter is split over the fsdp axis"
    _assert_same_steps(state, metrics, single, mesh)


def _assert_same_steps(state, metrics, single, mesh):
    ref_state, ref_metrics = single
    for key, value in ref_metrics.items():
        np.testing.assert_allclose(metrics[key], value, rtol=2e-5, atol=1e-6, err_msg=key)
    assert ref_metrics["loss"] > 0
    jax.tree.map(  # the same sums in another order: an element near 0 of a gradient moment differs by ~5e-7
        lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6), jax.device_get(state), ref_state
    )
    assert ref_metrics["lr"] > 0
    initial = jax.device_get(compiled_programs(mesh, program_key(tiny_train())).init(None, np.uint32(0)))
    moved = jax.tree.map(lambda a, b: np.abs(a - b).max(), ref_state["student"], initial["student"])
    assert max(jax.tree.leaves(moved)) > 1e-5  # the steps did update the parameters (by about lr)


def test_grouped_masked_patch_buffer_holds_the_same_patches():
    """Buffers of masked patches per group of crops hold, once the padding is dropped, the patches and weights
    of one buffer over the whole batch, in the same order."""
    from anonjax.ssl.meta_arch import _gather_masked, _masked_tokens

    rng = np.random.default_rng(0)
    masks = rng.random((8, 6)) < 0.3
    masks[3] = False  # a crop without masked patches
    tokens = rng.normal(size=(8, 6, 5)).astype(np.float32)
    whole_index, whole_weights = _gather_masked(masks, 48, 1)
    index, weights = _gather_masked(masks, 12, 4)  # 4 groups of 2 crops, 12 patches each at most
    whole, grouped = np.asarray(whole_weights).reshape(-1) > 0, np.asarray(weights).reshape(-1) > 0
    assert whole.sum() == grouped.sum() == masks.sum()
    np.testing.assert_array_equal(np.asarray(weights).reshape(-1)[grouped], np.asarray(whole_weights)[0, whole])
    np.testing.assert_array_equal(np.asarray(_masked_tokens(tokens, index))[grouped], tokens[masks])
    np.testing.assert_array_equal(np.asarray(_masked_tokens(tokens, whole_index))[whole], tokens[masks])
    np.testing.assert_allclose(np.asarray(weights).reshape(-1)[grouped], 1 / masks.sum(1)[np.nonzero(masks)[0]])

