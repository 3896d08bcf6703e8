"""Quadrature and series helpers shared by the analytic pieces."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np


# ================================================================== quadrature helpers
@functools.lru_cache(maxsize=64)
def _gauss_legendre01(n: int) -> tuple[np.ndarray, np.ndarray]:
    x, w = np.polynomial.legendre.leggauss(n)
    return (x + 1) / 2, w / 2


def piecewise_nodes(lo: Any, breakpoints: np.ndarray, n: int, *, log: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Nodes/weights for int_lo^bp[-1] f(x) dx (lo broadcast, shape S), split at sorted breakpoints.

    Each piece [max(lo, bp_i), bp_{i+1}] gets an n-point Gauss-Legendre rule, mapped in log x
    (x = a (b/a)^u; needs a > 0) or linearly. Pieces below lo get zero weight. Returns arrays of
    shape S + (pieces * n,).
    """
    u, wu = _gauss_legendre01(n)
    bp = np.asarray(breakpoints, float)
    lo = np.asarray(lo, float)[..., None]
    hi = np.broadcast_to(bp[1:], lo.shape[:-1] + (bp.size - 1,))
    a = np.minimum(np.maximum(lo, bp[:-1]), hi)
    if log:
        span = np.log(hi / a)
        x = a[..., None] * np.exp(span[..., None] * u)
        w = x * span[..., None] * wu
    else:
        span = hi - a
        x = a[..., None] + span[..., None] * u
        w = np.broadcast_to(span[..., None] * wu, x.shape)
    shape = lo.shape[:-1] + (-1,)
    return x.reshape(shape), np.array(w).reshape(shape)


def poisson_mixture_probs(q: np.ndarray) -> np.ndarray:
    """p_n, n = 0..N, of exp(sum_j q_j z^j) given q (N+1, ...): p_0 = exp(q_0), n p_n = sum j q_j p_{n-j}.

    q_0 <= 0 and q_j >= 0 (j >= 1) make every term non-negative (p_n = P[Poisson(s Y) = n])."""
    n_max = q.shape[0] - 1
    p = np.empty_like(q)
    p[0] = np.exp(q[0])
    for n in range(1, n_max + 1):
        j = np.arange(1, n + 1).reshape((-1,) + (1,) * (q.ndim - 1))
        p[n] = (j * q[1:n + 1] * p[n - 1::-1][:n]).sum(0) / n
    return p


def _y_minus_log1p(y: np.ndarray) -> np.ndarray:
    """y - log(1 + y) for y >= 0 without cancellation."""
    y = np.asarray(y, float)
    small = y < 1e-3
    ys = np.where(small, y, 0.0)
    series = ys**2 / 2 - ys**3 / 3 + ys**4 / 4 - ys**5 / 5
    return np.where(small, series, y - np.log1p(np.where(small, 0.0, y)))
