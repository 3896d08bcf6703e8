"""Stochastic-geometry model of the ray-traced city under the maps' own interference rule (docs/models/coverage.md §4).

The heatmaps' CINR (docs/models/cinr.md, Nguyen-Kha et al., arXiv 2408.15394, eqs. (7), (9)) has no interference
inside a network: with per-user powers p_B = P_B / n_B and p_S = P_S / n_S and the wanted-link gain G_w,

    gamma_B = G_w p_B g_b* / (sum_s p_S g_s + N),      gamma_S = G_w p_S g_s* / (sum_b p_B g_b + N)

(b* and s* the strongest BS sector and satellite). The model below keeps exactly that rule and replaces the
traced city by a random one whose laws are measured on the maps:

* BS sites: a Poisson point process of density lambda = n_sites / |W| in the city's rectangle W (the maps have no
  site outside it), antenna heights drawn from the measured ones; the receiver is uniform in W.
* Environment classes (latent, per receiver location): class c with probability pi_c. Given the class, every
  site link is independent: reached (some ray arrives) with probability p_c(d) = exp(-(d / L_c)^k_c) (Weibull in
  the 3-D distance d), and then its gain is g = FS(d) 10^(A/10), FS(d) = (lambda_c / (4 pi d))^2 (Friis), with the
  attenuation A (dB; sector and car patterns, walls, reflections) drawn from the class histogram h_c.
  A single class (C = 1) is Park et al.'s independent-marks PPP (arXiv 2307.03343) on a window; the classes are
  what the maps need: a street canyon or a courtyard is bad for every site at once (the per-link marks of the traced
  city are correlated across sites, docs/models/coverage.md §4).
* Satellites: the traced geometry (slot t, rank r: the serving satellites the maps used), LoS reference power
  P_ref[t, r] = p_S G_sat[t, r] FS(d_tr) (G_sat fitted by least squares to the maps' satellite interference), and an
  attenuation A_s from the class histogram h^S_c (one bin for "no ray"); ranks independent given the class.
* The BS sum: sum_b p_B g_b = eta sum_sites (best sector of the site), eta the measured ratio of the two totals.

Analysis (per class c, receiver position x; averaged over x uniform in W and over the classes). The site powers
form a Poisson process with intensity nu_{c,x} on the power axis (sites thinned by p_c, marked by A), so with
Lambda(y) = nu((y, inf)) and mu(m) = int_{p < m} p nu(dp):

    P[M <= y] = exp(-Lambda(y))                                 (void probability of the strongest site M)
    I_B = eta (M + R),  R | M = m  ~  PPP restricted below m,  E[R | M = m] = mu(m)  (exact conditional mean)
    P[gamma_B > theta] = E_sat[1 - exp(-Lambda(theta (I_S + N) / G_w))]
    P[gamma_S > theta] = E_sat[P[I_B < G_w S_S / theta - N]],  P[I_B < c] ~= exp(-Lambda(m*(c))),  m* + mu(m*) = c / eta
    P[both > theta]    ~= E_sat[(exp(-Lambda(m*(c))) - exp(-Lambda(a)))^+],  a = theta (I_S + N) / G_w
    P_MC = P[gamma_B > theta] + P[gamma_S > theta] - P[both > theta]

(R replaced by its conditional mean: the only approximation; :meth:`CityModel.simulate` draws the model itself
and checks it). For theta >= 1 and G_w = 1, both links can never exceed theta at once (g_b* <= sum_b g_b and
g_s* <= sum_s g_s make gamma_B gamma_S < 1), so P_MC = P_SC,BS + P_SC,sat exactly there, in the maps and in the model.

Calibration (:func:`calibrate_city_model`): expectation-maximisation over the cells' latent classes with the BS
links (reach by weighted Weibull maximum likelihood, attenuation by weighted histograms), then the satellite
histograms weighted by the same class posteriors.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr
from scipy import optimize

from pipeline.errors import StinError

C_LIGHT = 299_792_458.0
GRID_STEP_DB = 0.25  # power axis of the analysis (dBW)
GRID_LO_DBW, GRID_HI_DBW = -300.0, 40.0
BS_EDGES_DB = np.arange(-140.0, 20.0 + 1e-9, 2.0)  # attenuation bins of the reached site links (values clipped into them)
SAT_EDGES_DB = np.arange(-120.0, 20.0 + 1e-9, 2.0)  # satellite attenuation bins; one extra bin: no ray
N_DIST_BINS = 96  # log-distance bins of the reach fit (sufficient statistics)
ATOM_LATTICE_DB = 0.25  # satellite (S_max, I_sum) atoms closer than this (dB, both axes) are merged


def free_space_db(distance_m: np.ndarray, freq_hz: float) -> np.ndarray:
    """Friis gain 20 log10(lambda_c / (4 pi d)) (dB)."""
    return 20 * np.log10(C_LIGHT / (4 * math.pi * freq_hz * np.maximum(np.asarray(distance_m, float), 1e-3)))


def weibull_reach(distance_m: np.ndarray, scale_m: float, shape: float) -> np.ndarray:
    """p(d) = exp(-(d / L)^k): probability that a site link is reached at 3-D distance d."""
    return np.exp(-(np.asarray(distance_m, float) / scale_m) ** shape)


@dataclass(frozen=True)
class CityModel:
    """Latent-class stochastic-geometry model of a ray-traced city (module docstring)."""

    width_m: float
    height_m: float
    site_density_per_m2: float
    site_heights_m: np.ndarray  # (H,) each equally likely
    rx_height_m: float
    freq_hz: float
    bs_power_w: float  # p_B = P_B / n_B
    wanted_gain: float  # G_w
    noise_w: float
    class_prob: np.ndarray  # (C,)
    reach_scale_m: np.ndarray  # (C,)
    reach_shape: np.ndarray  # (C,)
    bs_atten_prob: np.ndarray  # (C, len(BS_EDGES_DB) - 1)
    sat_ref_w: np.ndarray  # (T, R) LoS reference power p_S G_sat FS(d); 0 where a rank is absent
    sat_atten_prob: np.ndarray  # (C, len(SAT_EDGES_DB)): histogram bins, the last one "no ray"
    bs_sum_factor: float = 1.0  # eta
    diagnostics: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        c = len(self.class_prob)
        if c < 1 or abs(float(np.sum(self.class_prob)) - 1) > 1e-6:
            raise ValueError(f"class_prob {self.class_prob} must be >= 1 probabilities summing to 1")
        for name, shape in (("reach_scale_m", (c,)), ("reach_shape", (c,)), ("bs_atten_prob", (c, BS_EDGES_DB.size - 1)),
                            ("sat_atten_prob", (c, SAT_EDGES_DB.size))):
            if np.shape(getattr(self, name)) != shape:
                raise ValueError(f"{name} has shape {np.shape(getattr(self, name))}, expected {shape}")
        if not (self.width_m > 0 and self.height_m > 0 and self.site_density_per_m2 > 0):
            raise ValueError("the city window and the site density must be > 0")

    @property
    def n_classes(self) -> int:
        return len(self.class_prob)

    @property
    def mean_sites(self) -> float:
        return self.site_density_per_m2 * self.width_m * self.height_m

    # ------------------------------------------------------------------ analysis
    def _positions(self, n: int) -> np.ndarray:
        nx = max(2, int(round(math.sqrt(n * self.width_m / self.height_m))))
        ny = max(2, int(round(n / nx)))
        gx = ((np.arange(nx) + 0.5) / nx - 0.5) * self.width_m
        gy = ((np.arange(ny) + 0.5) / ny - 0.5) * self.height_m
        return np.stack([g.ravel() for g in np.meshgrid(gx, gy)], axis=-1)

    def _site_measure(self, n_pos: int, n_nodes: int) -> tuple[np.ndarray, np.ndarray]:
        """Per class and position, the Poisson intensity of site powers on the dB grid (C, X, G), and the grid."""
        grid = np.arange(GRID_LO_DBW, GRID_HI_DBW + GRID_STEP_DB / 2, GRID_STEP_DB)
        pos = self._positions(n_pos)
        nodes = self._positions(n_nodes)
        d_area = self.width_m * self.height_m / len(nodes)
        h = np.asarray(self.site_heights_m, float)
        horiz2 = ((pos[:, None, :] - nodes[None, :, :]) ** 2).sum(-1)  # (X, Q)
        d = np.sqrt(horiz2[..., None] + (h[None, None, :] - self.rx_height_m) ** 2)  # (X, Q, H)
        level = 10 * np.log10(self.bs_power_w) + free_space_db(d, self.freq_hz)  # dBW without attenuation
        idx = np.clip(np.rint((level - GRID_LO_DBW) / GRID_STEP_DB).astype(int), 0, grid.size - 1)
        weight = self.site_density_per_m2 * d_area / h.size
        # attenuation kernel on the grid: each 2 dB bin spread uniformly over its sub-steps
        width = BS_EDGES_DB[1] - BS_EDGES_DB[0]
        sub = int(round(width / GRID_STEP_DB))
        off0 = int(round(BS_EDGES_DB[0] / GRID_STEP_DB))
        out = np.zeros((self.n_classes, len(pos), grid.size))
        for c in range(self.n_classes):
            kern = np.repeat(self.bs_atten_prob[c] / sub, sub)  # offsets off0 .. off0 + len - 1 (grid steps)
            w = weight * weibull_reach(d, self.reach_scale_m[c], self.reach_shape[c])
            for x in range(len(pos)):
                hist = np.bincount(idx[x].ravel(), weights=w[x].ravel(), minlength=grid.size)
                conv = np.convolve(hist, kern)  # index i + j at offset j + off0
                lo = off0
                if lo >= 0:
                    out[c, x, lo:] = conv[: grid.size - lo]
                else:
                    out[c, x] = conv[-lo: -lo + grid.size]
        return out, grid

    def _sat_atoms(self) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per class: (S_max [W], I_sum [W], weight) of the satellite links, pooled over the slots."""
        centers = np.r_[(SAT_EDGES_DB[:-1] + SAT_EDGES_DB[1:]) / 2, -np.inf]
        n_t = self.sat_ref_w.shape[0]
        out = {}
        for c in range(self.n_classes):
            keys_s, keys_i, ws = [], [], []
            prob = self.sat_atten_prob[c]
            for t in range(n_t):
                s_max = np.zeros(1)
                i_sum = np.zeros(1)
                w = np.ones(1)
                for ref in self.sat_ref_w[t]:
                    if ref <= 0:
                        continue
                    p = ref * 10 ** (centers / 10)
                    s_max = np.maximum(s_max[:, None], p[None]).ravel()
                    i_sum = (i_sum[:, None] + p[None]).ravel()
                    w = (w[:, None] * prob[None]).ravel()
                    keep = w > 1e-12
                    s_max, i_sum, w = s_max[keep], i_sum[keep], w[keep]
                keys_s.append(s_max)
                keys_i.append(i_sum)
                ws.append(w / n_t)
            s, i, w = (np.concatenate(v) for v in (keys_s, keys_i, ws))
            # merge atoms on a lattice of ATOM_LATTICE_DB (keeps the count small for many slots/ranks)
            ks = np.where(s > 0, np.rint(10 * np.log10(np.maximum(s, 1e-300)) / ATOM_LATTICE_DB), -1e9)
            ki = np.where(i > 0, np.rint(10 * np.log10(np.maximum(i, 1e-300)) / ATOM_LATTICE_DB), -1e9)
            uniq, inv = np.unique(np.stack([ks, ki], 1), axis=0, return_inverse=True)
            inv = inv.ravel()
            wsum = np.bincount(inv, weights=w)
            s_u = np.bincount(inv, weights=w * s) / wsum
            i_u = np.bincount(inv, weights=w * i) / wsum
            out[c] = (s_u, i_u, wsum)
        return out

    def coverage(self, sinr_threshold_db: Any, *, n_pos: int = 96, n_nodes: int = 2400) -> dict[str, np.ndarray]:
        """P_SC,BS, P_SC,sat, P_MC (and the overlap P[both]) versus SINR threshold (dB): the analysis of the module
        docstring, averaged over ``n_pos`` receiver positions and the classes."""
        thr = np.atleast_1d(np.asarray(sinr_threshold_db, float))
        tau = 10 ** (thr / 10)
        nu, grid = self._site_measure(n_pos, n_nodes)
        p_grid = 10 ** (grid / 10)
        atoms = self._sat_atoms()
        gw, noise, eta = self.wanted_gain, self.noise_w, self.bs_sum_factor
        res = {k: np.zeros(thr.size) for k in ("sc_bs", "sc_sat", "both")}
        per_class = {k: np.zeros((self.n_classes, thr.size)) for k in res}
        for c in range(self.n_classes):
            s_sat, i_sat, w_sat = atoms[c]
            a = tau[:, None] * (i_sat[None] + noise) / gw  # (T, A): M must exceed it
            f_a = _grid_coord(a)
            with np.errstate(divide="ignore"):
                c_lim = gw * s_sat[None] / tau[:, None] - noise  # I_B must stay below it
            target = np.where(c_lim > 0, c_lim / eta, 0.0)
            for x in range(nu.shape[1]):
                lam_tail = np.cumsum(nu[c, x][::-1])[::-1]  # Lambda at the grid points (mass at >= grid)
                mu_below = np.r_[0.0, np.cumsum(nu[c, x] * p_grid)[:-1]]  # mean sum of powers below each grid point
                void_a = np.exp(-_lambda_at(lam_tail, f_a))
                pb = ((1 - void_a) @ w_sat)
                # m*(c): m + mu(m) = c / eta, inverted on the grid (increasing in m), as a grid coordinate
                h_of_m = p_grid + mu_below
                f_m = np.interp(target, h_of_m, np.arange(grid.size, dtype=float), left=-np.inf, right=grid.size - 1.0)
                void_c = np.where(c_lim > 0, np.exp(-_lambda_at(lam_tail, f_m)), 0.0)
                ps = void_c @ w_sat
                both = (np.maximum(void_c - void_a, 0.0) * (f_m > f_a)) @ w_sat
                for k, v in (("sc_bs", pb), ("sc_sat", ps), ("both", both)):
                    per_class[k][c] += v / nu.shape[1]
        for k in res:
            res[k] = (self.class_prob[:, None] * per_class[k]).sum(0)
        return {"sinr_db": thr, "sc_bs": res["sc_bs"], "sc_sat": res["sc_sat"],
                "mc": np.clip(res["sc_bs"] + res["sc_sat"] - res["both"], 0.0, 1.0), "both": res["both"],
                "per_class": {k: v for k, v in per_class.items()}}

    # ------------------------------------------------------------------ Monte Carlo of the same model
    def simulate(self, n: int, seed: int | np.random.Generator = 0) -> dict[str, np.ndarray]:
        """Draws of the model itself (sites, classes, links, satellites; no approximation): linear gamma_B, gamma_S."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        cls = rng.choice(self.n_classes, n, p=self.class_prob)
        cx = rng.uniform(-self.width_m / 2, self.width_m / 2, n)
        cy = rng.uniform(-self.height_m / 2, self.height_m / 2, n)
        k = rng.poisson(self.mean_sites, n)
        m = max(1, int(k.max()))
        sx = rng.uniform(-self.width_m / 2, self.width_m / 2, (n, m))
        sy = rng.uniform(-self.height_m / 2, self.height_m / 2, (n, m))
        sz = rng.choice(np.asarray(self.site_heights_m, float), (n, m))
        valid = np.arange(m)[None] < k[:, None]
        d = np.sqrt((cx[:, None] - sx) ** 2 + (cy[:, None] - sy) ** 2 + (sz - self.rx_height_m) ** 2)
        reach = valid & (rng.random((n, m)) < weibull_reach(d, self.reach_scale_m[cls][:, None],
                                                             self.reach_shape[cls][:, None]))
        att = _draw_binned(rng, self.bs_atten_prob[cls], BS_EDGES_DB, (m,))
        power = np.where(reach, self.bs_power_w * 10 ** ((free_space_db(d, self.freq_hz) + att) / 10), 0.0)
        big_m = power.max(1)
        i_b = self.bs_sum_factor * power.sum(1)
        t = rng.integers(0, self.sat_ref_w.shape[0], n)
        ref = self.sat_ref_w[t]  # (n, R)
        satt = _draw_binned(rng, self.sat_atten_prob[cls], SAT_EDGES_DB, (ref.shape[1],), last_is_void=True)
        s_pow = np.where(ref > 0, ref * 10 ** (satt / 10), 0.0)
        s_s, i_s = s_pow.max(1), s_pow.sum(1)
        return {"gamma_bs": self.wanted_gain * big_m / (i_s + self.noise_w),
                "gamma_sat": self.wanted_gain * s_s / (i_b + self.noise_w), "class": cls}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (the histograms as lists)."""
        return {"n_classes": self.n_classes, "class_prob": np.round(self.class_prob, 4).tolist(),
                "reach_scale_m": np.round(self.reach_scale_m, 1).tolist(), "reach_shape": np.round(self.reach_shape, 3).tolist(),
                "site_density_per_km2": self.site_density_per_m2 * 1e6, "window_m": [self.width_m, self.height_m],
                "site_heights_m": np.asarray(self.site_heights_m, float).tolist(), "bs_sum_factor": round(self.bs_sum_factor, 4),
                "bs_attenuation_median_db": [round(_hist_quantile(p, BS_EDGES_DB, 0.5), 1) for p in self.bs_atten_prob],
                "sat_no_ray_prob": np.round(self.sat_atten_prob[:, -1], 4).tolist(),
                "sat_attenuation_median_db": [round(_hist_quantile(p[:-1] / max(p[:-1].sum(), 1e-300), SAT_EDGES_DB, 0.5), 1)
                                              for p in self.sat_atten_prob],
                **self.diagnostics}


def _grid_coord(power_w: np.ndarray) -> np.ndarray:
    """Fractional index of a power (W) on the analysis grid (-inf for 0 W)."""
    with np.errstate(divide="ignore"):
        return (10 * np.log10(power_w) - GRID_LO_DBW) / GRID_STEP_DB


def _lambda_at(lam_tail: np.ndarray, coord: np.ndarray) -> np.ndarray:
    """Lambda at a fractional grid coordinate: the mass of grid points above it (grid point k holds the mass of
    [k - 1/2, k + 1/2) steps; linear between), all of it below the grid, none above."""
    pos = np.clip(coord + 0.5, 0.0, lam_tail.size)
    k = np.floor(pos).astype(int)
    frac = pos - k
    ext = np.r_[lam_tail, 0.0, 0.0]
    return ext[k] * (1 - frac) + ext[k + 1] * frac


def _hist_quantile(prob: np.ndarray, edges: np.ndarray, q: float) -> float:
    cdf = np.cumsum(prob)
    i = int(np.searchsorted(cdf, q * cdf[-1]))
    return float((edges[min(i, edges.size - 2)] + edges[min(i, edges.size - 2) + 1]) / 2)


def _draw_binned(rng: np.random.Generator, prob: np.ndarray, edges: np.ndarray, shape: tuple[int, ...],
                 last_is_void: bool = False) -> np.ndarray:
    """Values (dB) from per-row bin probabilities (rows, bins), uniform inside the bin; -inf for the void bin."""
    cdf = np.cumsum(prob, axis=1)
    cdf /= cdf[:, -1:]
    u = rng.random((prob.shape[0],) + shape)
    b = (u[..., None] > cdf[:, None, :] if shape else u[:, None] > cdf).sum(-1)
    b = np.minimum(b, prob.shape[1] - 1)
    n_bins = edges.size - 1
    lo = edges[np.minimum(b, n_bins - 1)]
    val = lo + rng.random(b.shape) * (edges[1] - edges[0])
    if last_is_void:
        val = np.where(b >= n_bins, -np.inf, val)
    return val


# ================================================================== calibration
def _bin_index(values_db: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(edges, values_db, side="right") - 1, 0, edges.size - 2)


def _fit_weibull(d_bin: np.ndarray, n_reach: np.ndarray, n_miss: np.ndarray, start: tuple[float, float]) -> tuple[float, float]:
    """Weighted ML of p(d) = exp(-(d/L)^k) from per-distance-bin counts of reached / missed links."""
    def nll(th: np.ndarray) -> float:
        lsc, ksh = np.exp(th)
        z = (d_bin / lsc) ** ksh
        log_p = -z
        log_q = np.log(-np.expm1(-np.maximum(z, 1e-300)))
        return float(-(n_reach * log_p + n_miss * log_q).sum())

    res = optimize.minimize(nll, np.log(start), method="Nelder-Mead", options={"xatol": 1e-5, "fatol": 1e-4, "maxiter": 400})
    lsc, ksh = np.exp(res.x)
    return float(lsc), float(ksh)


def fit_latent_classes(distance_m: np.ndarray, reached: np.ndarray, atten_bin: np.ndarray, n_classes: int, *,
                       max_iter: int = 300, tol: float = 1e-7) -> dict[str, Any]:
    """EM for the latent-class site-link model: cells (rows) x sites (columns).

    Link likelihood given class c: 1 - p_c(d) if not reached, else p_c(d) h_c[bin]. Initialisation: cells split
    into ``n_classes`` groups by quantiles of (fraction of sites reached + rank of their mean attenuation), so the
    fit is deterministic. Classes are returned sorted by decreasing reach scale.
    """
    n_cells, _ = distance_m.shape
    n_bins = BS_EDGES_DB.size - 1
    d_edges = np.geomspace(max(1.0, float(distance_m.min()) * 0.99), float(distance_m.max()) * 1.01, N_DIST_BINS + 1)
    d_idx = np.clip(np.searchsorted(d_edges, distance_m, side="right") - 1, 0, N_DIST_BINS - 1)
    d_mid = np.sqrt(d_edges[:-1] * d_edges[1:])
    frac = reached.mean(1)
    mean_att = np.array([atten_bin[i][reached[i]].mean() if reached[i].any() else -1.0 for i in range(n_cells)])
    score = frac.argsort().argsort() + mean_att.argsort().argsort()
    group = np.minimum((score.argsort().argsort() * n_classes) // n_cells, n_classes - 1)
    post = np.eye(n_classes)[group].T  # (C, cells)
    scale = np.full(n_classes, float(np.median(distance_m)))
    shape = np.ones(n_classes)
    prev = -np.inf
    loglik = -np.inf
    for it in range(max_iter):
        # M-step
        pi = post.mean(1)
        hist = np.zeros((n_classes, n_bins))
        for c in range(n_classes):
            w = np.broadcast_to(post[c][:, None], reached.shape)
            hist[c] = np.bincount(atten_bin[reached], weights=w[reached], minlength=n_bins) + 1e-6
            hist[c] /= hist[c].sum()
            n_r = np.bincount(d_idx[reached], weights=w[reached], minlength=N_DIST_BINS)
            n_m = np.bincount(d_idx[~reached], weights=w[~reached], minlength=N_DIST_BINS)
            scale[c], shape[c] = _fit_weibull(d_mid, n_r, n_m, (scale[c], shape[c]))
        # E-step
        ll = np.zeros((n_classes, n_cells))
        for c in range(n_classes):
            p = np.clip(weibull_reach(distance_m, scale[c], shape[c]), 1e-12, 1 - 1e-12)
            ll[c] = np.where(reached, np.log(p) + np.log(hist[c][atten_bin]), np.log1p(-p)).sum(1) + np.log(pi[c])
        top = ll.max(0)
        z = np.exp(ll - top)
        tot = z.sum(0)
        post = z / tot
        loglik = float((top + np.log(tot)).sum())
        if abs(loglik - prev) <= tol * abs(loglik):
            break
        prev = loglik
    order = np.argsort(-scale)
    n_par = n_classes * (2 + n_bins - 1) + n_classes - 1
    return {"class_prob": post.mean(1)[order], "reach_scale_m": scale[order], "reach_shape": shape[order],
            "atten_prob": hist[order], "posterior": post[order], "loglik": loglik, "iterations": it + 1,
            "bic": -2 * loglik + n_par * math.log(reached.size)}


def _site_gains(radiomaps: xr.Dataset, iy: np.ndarray, ix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Best-sector gain per site at the sampled cells (cells, sites), the site coordinates, and eta."""
    site_names = radiomaps["bs_site"].values
    sites = list(dict.fromkeys(site_names.tolist()))
    best = np.zeros((iy.size, len(sites)))
    total_all = 0.0
    for b in range(radiomaps.sizes["bs"]):
        g = np.asarray(radiomaps["path_gain_bs"].isel(bs=b).values, float)[iy, ix]
        g = np.where(np.isfinite(g), np.maximum(g, 0.0), 0.0)
        s = sites.index(site_names[b])
        best[:, s] = np.maximum(best[:, s], g)
        total_all += float(g.sum())
    xyz = np.zeros((len(sites), 3))
    for s, name in enumerate(sites):
        b = int(np.flatnonzero(site_names == name)[0])
        xyz[s] = [float(radiomaps["bs_x_m"].values[b]), float(radiomaps["bs_y_m"].values[b]), float(radiomaps["bs_z_m"].values[b])]
    eta = total_all / max(float(best.sum()), 1e-300)
    return best, xyz, max(eta, 1.0)


def calibrate_city_model(heatmaps: xr.Dataset, radiomaps: xr.Dataset, *, n_classes: int = 3, max_cells: int = 12_000,
                         seed: int = 0) -> CityModel:
    """Measure the :class:`CityModel` of a ray-traced city on its maps (module docstring).

    Uses ``radiomaps.nc`` (per-sector and per-satellite path gains, site positions, slant ranges) and the heatmaps'
    powers, loads, noise and satellite interference (for the satellites' antenna gain). At most ``max_cells`` outdoor
    cells (a seeded sample) enter the fit.
    """
    return calibrate_city_models(heatmaps, radiomaps, [n_classes], max_cells=max_cells, seed=seed)[n_classes]


def calibrate_city_models(heatmaps: xr.Dataset, radiomaps: xr.Dataset, class_counts: list[int], *,
                          max_cells: int = 12_000, seed: int = 0) -> dict[int, CityModel]:
    """:func:`calibrate_city_model` for several class counts on one reading of the maps (same sampled cells)."""
    if not class_counts or min(class_counts) < 1:
        raise ValueError(f"n_classes = {class_counts} must be >= 1")
    outdoor = heatmaps["outdoor"].values.astype(bool)
    iy_all, ix_all = np.nonzero(outdoor)
    if iy_all.size < 50:
        raise StinError(f"only {iy_all.size} outdoor cells: too few to calibrate the city model",
                        "widen the city's bbox or use a smaller cell size")
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(iy_all.size, min(max_cells, iy_all.size), replace=False))
    iy, ix = iy_all[pick], ix_all[pick]
    xs, ys = heatmaps.x.values, heatmaps.y.values
    cell = float(heatmaps.attrs["cell_size_m"])
    width, height = float(xs.max() - xs.min()) + cell, float(ys.max() - ys.min()) + cell
    x0, y0 = float(xs.min() + xs.max()) / 2, float(ys.min() + ys.max()) / 2
    rx_h = float(heatmaps.attrs["rx_height_m"])
    freq = float(heatmaps.attrs["freq_hz"])

    # ---- BS sites
    g_site, xyz, eta = _site_gains(radiomaps, iy, ix)
    d = np.sqrt((xs[ix][:, None] - xyz[None, :, 0]) ** 2 + (ys[iy][:, None] - xyz[None, :, 1]) ** 2
                + (xyz[None, :, 2] - rx_h) ** 2)
    reached = g_site > 0
    if reached.sum() < 20:
        raise StinError("fewer than 20 site links reach the sampled cells: no city model", "check the radio maps")
    att = np.where(reached, 10 * np.log10(np.where(reached, g_site, 1.0)) - free_space_db(d, freq), 0.0)
    att_bin = _bin_index(att, BS_EDGES_DB)

    # ---- satellites: LoS reference per (slot, rank) and the attenuation bins of every link
    serving = radiomaps["serving_sat"].values  # (T, R)
    slant = radiomaps["sat_slant_range_m"].values
    g_sat = np.stack([np.asarray(radiomaps["path_gain_sat"].isel(time=t).values, float)[:, iy, ix]
                      for t in range(serving.shape[0])])  # (T, R, cells)
    g_sat = np.where(np.isfinite(g_sat), np.maximum(g_sat, 0.0), 0.0)
    i_sat = 10 ** ((heatmaps["interference_from_sat_dbm"].transpose("time", "y", "x").values[:, iy, ix] - 30) / 10)
    ref = np.zeros(serving.shape)
    sat_att_bins = []
    for t in range(serving.shape[0]):
        ranks = np.flatnonzero(serving[t] >= 0)
        if ranks.size == 0:
            continue
        coef, _ = optimize.nnls(g_sat[t, ranks].T, i_sat[t])  # p_S x satellite antenna gain per rank
        for r, cf in zip(ranks, coef):
            if cf <= 0:
                continue
            ref[t, r] = cf * 10 ** (free_space_db(slant[t, r], freq) / 10)
            gg = g_sat[t, r]
            a = np.where(gg > 0, 10 * np.log10(np.where(gg > 0, gg, 1.0)) - free_space_db(slant[t, r], freq), np.nan)
            sat_att_bins.append(np.where(np.isnan(a), SAT_EDGES_DB.size - 1, _bin_index(np.nan_to_num(a), SAT_EDGES_DB)))
    if not sat_att_bins:
        raise StinError("no satellite link in the radio maps", "rerun orbits/radiomaps (no serving satellite)")
    sat_bins = np.stack(sat_att_bins, 1)  # (cells, links)

    n_sites = xyz.shape[0]
    inside = (np.abs(xyz[:, 0] - x0) <= width / 2) & (np.abs(xyz[:, 1] - y0) <= height / 2)
    p_b = 10 ** ((float(heatmaps.attrs["bs_tx_power_dbm"]) - 30) / 10) / float(heatmaps.attrs.get("load_bs_users", 1.0))
    out = {}
    for n_classes in sorted(set(class_counts)):
        fit = fit_latent_classes(d, reached, att_bin, n_classes)
        sat_prob = np.zeros((n_classes, SAT_EDGES_DB.size))
        for c in range(n_classes):
            w = np.broadcast_to(fit["posterior"][c][:, None], sat_bins.shape)
            sat_prob[c] = np.bincount(sat_bins.ravel(), weights=w.ravel(), minlength=SAT_EDGES_DB.size) + 1e-9
            sat_prob[c] /= sat_prob[c].sum()
        diag = {"cells_used": int(iy.size), "links": int(reached.size), "link_reach_fraction": round(float(reached.mean()), 4),
                "cells_no_site_reached": round(float((~reached.any(1)).mean()), 4), "em_iterations": fit["iterations"],
                "em_loglik": round(fit["loglik"], 1), "bic": round(fit["bic"], 1), "sites_inside_window": int(inside.sum())}
        out[n_classes] = CityModel(
            width_m=width, height_m=height, site_density_per_m2=n_sites / (width * height), site_heights_m=xyz[:, 2],
            rx_height_m=rx_h, freq_hz=freq, bs_power_w=p_b,
            wanted_gain=10 ** (float(heatmaps.attrs.get("receiver_wanted_gain_db", 0.0)) / 10),
            noise_w=10 ** ((float(heatmaps.attrs["noise_dbm"]) - 30) / 10), class_prob=fit["class_prob"],
            reach_scale_m=fit["reach_scale_m"], reach_shape=fit["reach_shape"], bs_atten_prob=fit["atten_prob"],
            sat_ref_w=ref, sat_atten_prob=sat_prob, bs_sum_factor=eta, diagnostics=diag)
    return out
