"""The DINOv2 losses against hand computations and transcriptions of the official formulas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from anonjax import parallel
from anonjax.ssl.dino_loss import dino_loss, sinkhorn_knopp, softmax_center, update_center
from anonjax.ssl.ibot_loss import ibot_loss, ibot_loss_gathered
from anonjax.ssl.koleo_loss import koleo_loss


def _np_log_softmax(x):
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _np_sinkhorn(logits, temp, n_iterations=3):
    """The official sinkhorn_knopp_teacher on one device, in numpy (float64)."""
    q = np.exp(logits / temp).T
    n_samples, n_prototypes = q.shape[1], q.shape[0]
    q /= q.sum()
    for _ in range(n_iterations):
        q /= q.sum(axis=1, keepdims=True)
        q /= n_prototypes
        q /= q.sum(axis=0, keepdims=True)
        q /= n_samples
    q *= n_samples
    return q.T


def _np_dino(student_list, teacher_list, temp=0.1):
    total = 0.0
    for s in student_list:
        lsm = _np_log_softmax(s / temp)
        for t in teacher_list:
            total -= np.sum(t * lsm, axis=-1).mean()
    return total


def _np_ibot(s, t, masks, temp=0.1):
    loss = np.sum(t * _np_log_softmax(s / temp), axis=-1)
    loss = np.sum(loss * masks, axis=-1) / np.clip(masks.sum(-1), 1.0, None)
    return -loss.mean()


def _np_koleo(x, eps=1e-8):
    x = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), eps)
    dots = x @ x.T
    np.fill_diagonal(dots, -1)
    nn = dots.argmax(1)
    return -np.log(np.linalg.norm(x - x[nn] + eps, axis=-1) + eps).mean()


@pytest.fixture(scope="module")
def rng():
    return np.random.default_rng(0)


def test_softmax_center_and_update_by_hand():
    logits = jnp.asarray([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    center = jnp.asarray([[1.0, 0.0, 1.0]])
    probs = softmax_center(logits, center, 0.5)
    row0 = np.exp(np.array([0.0, 4.0, 4.0]))  # (logits - center) / 0.5
    np.testing.assert_allclose(probs[0], row0 / row0.sum(), rtol=1e-6)
    new = update_center(center, logits, 0.9)
    np.testing.assert_allclose(new, [[0.9 + 0.2, 0.2, 0.9 + 0.2]], rtol=1e-6)  # mean row is [2, 2, 2]
    weighted = update_center(center, logits, 0.5, weights=jnp.asarray([True, False]))
    np.testing.assert_allclose(weighted, [[1.0, 1.0, 2.0]], rtol=1e-6)


def test_sinkhorn_matches_official_and_balances(rng):
    logits = rng.normal(size=(12, 5)).astype(np.float32)
    q = np.asarray(sinkhorn_knopp(jnp.asarray(logits), 0.5))
    np.testing.assert_allclose(q, _np_sinkhorn(logits.astype(np.float64), 0.5), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(q.sum(1), 1.0, rtol=1e-5)
    # Many iterations: every prototype receives B/K of the mass.
    q_many = np.asarray(sinkhorn_knopp(jnp.asarray(logits), 0.5, n_iterations=200))
    np.testing.assert_allclose(q_many.sum(0), 12 / 5, rtol=1e-3)


def test_sinkhorn_valid_mask_equals_subset(rng):
    logits = rng.normal(size=(10, 6)).astype(np.float32)
    valid = np.array([1, 0, 1, 1, 0, 1, 1, 0, 1, 1], bool)
    q = np.asarray(sinkhorn_knopp(jnp.asarray(logits), 0.3, valid=jnp.asarray(valid)))
    np.testing.assert_allclose(q[valid], _np_sinkhorn(logits[valid].astype(np.float64), 0.3), rtol=1e-5)
    assert np.all(q[~valid] == 0)


def test_sinkhorn_sums_across_devices(rng):
    mesh = parallel.make_mesh()
    logits = jnp.asarray(rng.normal(size=(16, 7)).astype(np.float32))
    sharded = jax.shard_map(
        lambda x: sinkhorn_knopp(x, 0.2, axis_name=parallel.BATCH_AXES),
        mesh=mesh, in_specs=parallel.batch_spec(), out_specs=parallel.batch_spec(),
    )(logits)
    np.testing.assert_allclose(sharded, sinkhorn_knopp(logits, 0.2), rtol=1e-5, atol=1e-7)
    assert P(parallel.BATCH_AXES) == parallel.batch_spec()


def test_dino_loss_matches_official_loop(rng):
    s = rng.normal(size=(3, 4, 6)).astype(np.float32)
    t = _np_log_softmax(rng.normal(size=(2, 4, 6)))
    t = np.exp(t).astype(np.float32)
    got = float(dino_loss(jnp.asarray(s), jnp.asarray(t), 0.1))
    np.testing.assert_allclose(got, _np_dino(list(s), list(t), 0.1), rtol=1e-5)


def test_dino_loss_by_hand():
    # Uniform student logits: cross-entropy log K for every pair, summed over 2 student x 1 teacher crops.
    s = jnp.zeros((2, 3, 4))
    t = jnp.full((1, 3, 4), 0.25)
    np.testing.assert_allclose(dino_loss(s, t), 2 * np.log(4), rtol=1e-6)


def test_ibot_loss_matches_official(rng):
    s = rng.normal(size=(3, 5, 4)).astype(np.float32)
    t = np.exp(_np_log_softmax(rng.normal(size=(3, 5, 4)))).astype(np.float32)
    masks = np.array([[1, 0, 1, 0, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1]], bool)
    got = float(ibot_loss(jnp.asarray(s), jnp.asarray(t), jnp.asarray(masks)))
    np.testing.assert_allclose(got, _np_ibot(s, t, masks), rtol=1e-5)
    # The gathered form of the step (official forward_masked) gives the same number.
    idx = np.flatnonzero(masks.reshape(-1))
    weights = (1.0 / np.clip(masks.sum(-1), 1, None))[idx // 5]
    pad = 3
    s_g = np.concatenate([s.reshape(15, 4)[idx], np.zeros((pad, 4), np.float32)])
    t_g = np.concatenate([t.reshape(15, 4)[idx], np.zeros((pad, 4), np.float32)])
    w_g = np.concatenate([weights, np.zeros(pad)]).astype(np.float32)
    np.testing.assert_allclose(ibot_loss_gathered(s_g, t_g, w_g, 3), got, rtol=1e-5)


def test_koleo_by_hand_and_official(rng):
    x = jnp.asarray([[2.0, 0.0], [0.0, 3.0], [0.0, 5.0]])
    # Rows 1 and 2 coincide after normalization (distance ~eps); row 0's nearest is one of them at sqrt(2).
    expected = -(np.log(np.sqrt(2)) + 2 * np.log(np.sqrt(2) * 1e-8 + 1e-8)) / 3
    np.testing.assert_allclose(koleo_loss(x), expected, rtol=1e-4)
    y = rng.normal(size=(9, 6)).astype(np.float32)
    np.testing.assert_allclose(koleo_loss(jnp.asarray(y)), _np_koleo(y.astype(np.float64)), rtol=1e-5)



def test_koleo_groups_by_hand(rng):
    # Two groups of two: in each, the nearest neighbour is the other row, at the distances sqrt(2) and
    # sqrt(0.8) after normalization; over the whole batch rows 0 and 2 would coincide.
    x = jnp.asarray([[1.0, 0.0], [0.0, 1.0], [3.0, 0.0], [0.6, 0.8]])
    expected = -(np.log(np.sqrt(2.0)) + np.log(np.sqrt(0.8))) / 2  # the mean of the groups' losses
    np.testing.assert_allclose(koleo_loss(x, group_size=2), expected, rtol=1e-6)
    np.testing.assert_allclose(koleo_loss(x, group_size=4), koleo_loss(x), rtol=1e-6)  # one group: the batch
    y = rng.normal(size=(12, 5)).astype(np.float32)
    per_group = [_np_koleo(g.astype(np.float64)) for g in y.reshape(3, 4, 5)]
    np.testing.assert_allclose(koleo_loss(jnp.asarray(y), group_size=4), np.mean(per_group), rtol=1e-5)
    assert abs(float(koleo_loss(jnp.asarray(y), group_size=4)) - _np_koleo(y.astype(np.float64))) > 1e-3
    with pytest.raises(ValueError, match="multiple"):
        koleo_loss(jnp.asarray(y), group_size=5)

def test_losses_match_torch_transcriptions(rng):
    torch = pytest.importorskip("torch")
    f = torch.nn.functional
    logits = rng.normal(size=(8, 5)).astype(np.float32)

    # sinkhorn_knopp_teacher, DINOLoss.forward, iBOTPatchLoss.forward, KoLeoLoss.forward of the official code.
    q = torch.exp(torch.from_numpy(logits) / 0.3).t()
    n_b, n_k = q.shape[1], q.shape[0]
    q /= q.sum()
    for _ in range(3):
        q /= q.sum(dim=1, keepdim=True)
        q /= n_k
        q /= q.sum(dim=0, keepdim=True)
        q /= n_b
    q = (q * n_b).t()
    np.testing.assert_allclose(sinkhorn_knopp(jnp.asarray(logits), 0.3), q.numpy(), rtol=1e-5, atol=1e-7)

    s = torch.from_numpy(rng.normal(size=(3, 8, 5)).astype(np.float32))
    t = f.softmax(torch.from_numpy(rng.normal(size=(2, 8, 5)).astype(np.float32)), dim=-1)
    total = 0
    for si in s:
        lsm = f.log_softmax(si / 0.1, dim=-1)
        for ti in t:
            total -= torch.sum(ti * lsm, dim=-1).mean()
    np.testing.assert_allclose(dino_loss(jnp.asarray(s.numpy()), jnp.asarray(t.numpy())), total.item(), rtol=1e-5)

    sp = torch.from_numpy(rng.normal(size=(2, 6, 5)).astype(np.float32))
    tp = f.softmax(torch.from_numpy(rng.normal(size=(2, 6, 5)).astype(np.float32)), dim=-1)
    m = torch.from_numpy(rng.random((2, 6)) < 0.5)
    loss = torch.sum(tp * f.log_softmax(sp / 0.1, dim=-1), dim=-1)
    loss = torch.sum(loss * m.float(), dim=-1) / m.sum(dim=-1).clamp(min=1.0)
    expected = -loss.mean()
    got = ibot_loss(jnp.asarray(sp.numpy()), jnp.asarray(tp.numpy()), jnp.asarray(m.numpy()))
    np.testing.assert_allclose(got, expected.item(), rtol=1e-5)

    x = torch.from_numpy(rng.normal(size=(7, 4)).astype(np.float32))
    xn = f.normalize(x, eps=1e-8, p=2, dim=-1)
    dots = xn @ xn.t()
    dots.view(-1)[:: 8].fill_(-1)
    nn_idx = dots.max(dim=1).indices
    dist = torch.nn.PairwiseDistance(2, eps=1e-8)(xn, xn[nn_idx])
    expected = -torch.log(dist + 1e-8).mean()
    np.testing.assert_allclose(koleo_loss(jnp.asarray(x.numpy())), expected.item(), rtol=1e-5)
