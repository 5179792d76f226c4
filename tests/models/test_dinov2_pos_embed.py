"""Position-embedding resizing reproduces torch.nn.functional.interpolate as the official model calls it."""

import numpy as np
import pytest

from anonjax.models.pos_embed import antialiased_bicubic_matrix, bicubic_matrix, resize_matrices


def test_same_size_is_identity_and_rows_sum_to_one():
    np.testing.assert_allclose(bicubic_matrix(5, 5), np.eye(5), atol=1e-12)
    np.testing.assert_allclose(antialiased_bicubic_matrix(5, 5), np.eye(5), atol=1e-12)
    for matrix in (bicubic_matrix(37, 16, 16.1 / 37), antialiased_bicubic_matrix(37, 16), bicubic_matrix(4, 9)):
        np.testing.assert_allclose(matrix.sum(1), 1.0, atol=1e-6)


def test_scale_factor_output_size_is_checked():
    with pytest.raises(ValueError, match="table"):
        resize_matrices(37, 16, 16, offset=-0.5, antialias=False)


@pytest.mark.parametrize("rows,cols", [(16, 16), (16, 20), (37, 40), (74, 10), (8, 3)])
@pytest.mark.parametrize("offset,antialias", [(0.1, False), (0.0, True), (0.0, False)])
def test_matches_torch_interpolate(rows, cols, offset, antialias):
    torch = pytest.importorskip("torch")
    side = 37 if rows > 8 else 4
    table = np.random.default_rng(0).standard_normal((1, 8, side, side)).astype(np.float32)
    w_rows, w_cols = resize_matrices(side, rows, cols, offset, antialias)
    ours = np.einsum("hm,wn,bcmn->bchw", w_rows, w_cols, table.astype(np.float64))
    kwargs = {"scale_factor": ((rows + offset) / side, (cols + offset) / side)} if offset else {"size": (rows, cols)}
    ref = torch.nn.functional.interpolate(
        torch.from_numpy(table), mode="bicubic", antialias=antialias, align_corners=False, **kwargs
    ).numpy()
    assert ref.shape == ours.shape
    np.testing.assert_allclose(ours, ref, atol=2e-5, rtol=0)
