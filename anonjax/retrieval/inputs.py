"""Checks and L2 normalization of the embedding arrays that retrieval receives.

Bad input never becomes a number: every problem is a ``ValueError`` that names the argument and,
where it helps, the first row at fault.
"""

from __future__ import annotations

import math

import numpy as np


def real_rows(x, name: str) -> np.ndarray:
    """``x`` as a 2-D float array of finite rows, none all zero; a ValueError naming ``name`` if it is not.

    float32 and narrower types come back as float32; float64 and wide integers as float64, so that finite
    values beyond float32's range stay finite.
    """
    a = np.asarray(x)
    if a.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array (rows x dimensions), got shape {a.shape}")
    if a.shape[0] == 0 or a.shape[1] == 0:
        raise ValueError(f"{name}: expected at least one row and one dimension, got shape {a.shape}")
    if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"{name}: expected real numbers, got dtype {a.dtype}")
    a = a.astype(np.promote_types(a.dtype, np.float32), copy=False)
    finite = np.isfinite(a).all(axis=1)
    if not finite.all():
        bad = np.flatnonzero(~finite)
        raise ValueError(f"{name}: row {bad[0]} holds NaN or inf ({bad.size} such rows in all)")
    zero = ~a.any(axis=1)
    if zero.any():
        bad = np.flatnonzero(zero)
        raise ValueError(
            f"{name}: row {bad[0]} is a zero vector, so its cosine similarity is undefined "
            f"({bad.size} such rows in all)"
        )
    return a


def unit_rows(x, name: str) -> np.ndarray:
    """``x`` as float32 rows of unit L2 norm; a ValueError naming ``name`` if it cannot be.

    Each row is first divided by its largest magnitude, in its own precision, so that tiny or huge rows
    neither underflow nor overflow; the result is cast to float32 only once its entries are at most 1.
    """
    a = real_rows(x, name)
    a = a / np.abs(a).max(axis=1, keepdims=True)
    return (a / np.linalg.norm(a, axis=1, keepdims=True)).astype(np.float32)


def same_dims(a: np.ndarray, a_name: str, b: np.ndarray, b_name: str) -> None:
    """Two embedding sets compared by cosine must have the same width."""
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{a_name} has {a.shape[1]} dimensions but {b_name} has {b.shape[1]}; "
            "they must come from the same embedding space"
        )


def same_rows(a: np.ndarray, a_name: str, b: np.ndarray, b_name: str, why: str) -> None:
    """Two embedding sets whose rows are the same images must have the same number of rows."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"{a_name} has {a.shape[0]} rows but {b_name} has {b.shape[0]}; {why}")


def check_k(k, n_database: int) -> int:
    """``k`` as an int in [1, n_database]."""
    k = check_positive_int(k, "k")
    if k > n_database:
        raise ValueError(f"k={k} is larger than the database ({n_database} rows)")
    return k


def relevant_count(fraction, n_database: int) -> int:
    """k = max(1, floor(fraction * n_database)), with ``fraction`` in (0, 1].

    A 1e-9 slack keeps products such as 0.29 * 100 = 28.999999999999996 at their exact value.
    """
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    return max(1, math.floor(fraction * n_database + 1e-9))


def check_positive_int(value, name: str) -> int:
    """``value`` as an int >= 1."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_chunk_size(chunk_size) -> int | None:
    """``None`` (pick from a memory budget) or a positive int."""
    return None if chunk_size is None else check_positive_int(chunk_size, "chunk_size")
