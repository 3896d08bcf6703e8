"""Rank-one extraction of the lifted solution (principal eigenvector, then Gaussian randomisation), each
candidate scored by the evaluator.
"""

from __future__ import annotations

import math

import numpy as np

from pipeline.solvers.beamforming.ccp import SolverOptions
from pipeline.solvers.beamforming.evaluate import Beamformers, Evaluation, evaluate
from pipeline.solvers.beamforming.model import BeamformingProblem


def _principal(x: np.ndarray) -> tuple[np.ndarray, float]:
    lam, u = np.linalg.eigh((x + x.conj().T) / 2)
    ratio = float(max(lam[-2], 0.0) / lam[-1]) if lam.size > 1 and lam[-1] > 0 else 0.0
    return u[:, -1] * math.sqrt(max(lam[-1], 0.0)), ratio


def _randomize(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    lam, u = np.linalg.eigh((x + x.conj().T) / 2)
    lam = np.maximum(lam, 0.0)
    xi = (rng.normal(size=lam.size) + 1j * rng.normal(size=lam.size)) / math.sqrt(2)
    vec = u @ (np.sqrt(lam) * xi)
    nrm = np.linalg.norm(vec)
    return vec * (math.sqrt(lam.sum()) / nrm) if nrm > 0 else vec


def extract_rank_one(p: BeamformingProblem, xs: list, y: np.ndarray | None, y0: np.ndarray, *,
                     us: list | None = None, tau: float | None = None, robust: bool = False,
                     encoded: np.ndarray | None = None, opts: SolverOptions = SolverOptions(),
                     waived: tuple[str, ...] = ()) -> tuple[Beamformers, Evaluation, str]:
    """Rank-one beams from the lifted solution (physical units).

    Method: w_m = sqrt(lambda_1) u_1 of W_m (and likewise v, u_m); if some matrix has
    lambda_2 / lambda_1 > rank_tol, or the eigenvector design fails the evaluator, also draw ``randomizations`` Gaussian candidates
    w ~ CN(0, W_m) rescaled to ||w||^2 = Tr W_m; candidates whose total power exceeds a budget are
    scaled down to it. Every candidate is scored by :func:`evaluate`; the feasible one with the
    largest delivered sum rate wins (the eigenvector one if it ties); ``waived`` checks (a QoS a
    benchmark had to drop) do not count for feasibility. V0 needs no extraction.
    """
    rng = np.random.default_rng(opts.seed)
    mats = list(xs) + ([y] if y is not None else []) + list(us or [])
    scale = max([float(np.real(np.trace(x))) for x in mats] + [0.0])
    mats = [x if np.real(np.trace(x)) > 1e-9 * scale else np.zeros_like(x) for x in mats]  # idle beams -> 0
    ranks = [_principal(x)[1] for x in mats]
    low_rank = all(r <= opts.rank_tol for r in ranks)

    def build(vecs: list) -> Beamformers:
        w = np.array(vecs[:len(xs)]).reshape(len(xs), -1) if xs else np.zeros((p.n_users, p.n_bs), complex)
        k = len(xs)
        v = vecs[k] if y is not None else np.zeros(p.n_sat, complex)
        k += y is not None
        u = np.array(vecs[k:]) if us else None
        pw_bs = float(np.sum(np.abs(w) ** 2))
        if pw_bs > p.p_bs_w:
            w = w * math.sqrt(p.p_bs_w / pw_bs)
        r_sens = y0
        comm = float(np.sum(np.abs(v) ** 2) + (np.sum(np.abs(u) ** 2) if u is not None else 0))
        sens = float(np.real(np.trace(y0)))
        if comm + sens > p.p_sat_w:  # solver round-off: shrink the comm beams first, V0 only if it alone is over
            f = math.sqrt(max(p.p_sat_w - sens, 0.0) / comm) if comm > 0 else 1.0
            if sens > p.p_sat_w:
                f, r_sens = 0.0, y0 * (p.p_sat_w / sens)
            v = v * f
            u = u * f if u is not None else None
        return Beamformers(w=w if xs else np.zeros((p.n_users, p.n_bs), complex), v=v, r_sens=r_sens, u=u,
                           tdma_sat_share=tau)

    def score(bf: Beamformers) -> tuple[bool, float, Evaluation]:
        ev = evaluate(p, bf, robust=robust, encoded_rates=encoded if robust else None)
        return all(v for k, v in ev.checks.items() if k not in waived), ev.delivered_sum_rate, ev

    best = build([_principal(x)[0] for x in mats])
    ok, val, ev = score(best)
    how = "eigenvector" if low_rank else "eigenvector (not rank one)"
    if low_rank and ok:
        return best, ev, how
    for _ in range(opts.randomizations):
        cand = build([_randomize(x, rng) for x in mats])
        ok2, val2, ev2 = score(cand)
        if robust and encoded is not None and not ok2:  # a random candidate gets its own encoded rates
            ev2 = evaluate(p, cand, robust=True)
            ok2, val2 = all(v for k, v in ev2.checks.items() if k not in waived), ev2.delivered_sum_rate
        if ok2 and (not ok or val2 > val):
            best, ok, val, ev, how = cand, ok2, val2, ev2, f"gaussian randomisation ({opts.randomizations} draws)"
    return best, ev, how
