"""Rate coverage of a satellite-terrestrial integrated network (Park, Choi, Lee, Baccelli, arXiv 2307.03343 v2;
the equations, lost from the text we have, are derived and checked in docs/models/coverage.md).

Model (Park et al. §II). Every tier k (satellite shells, terrestrial BSs) is a
Poisson point process of density lambda_k on a base sphere of radius R0_k (R0 = R_E + h_S for
satellites, R0 = R_E for TBSs); each point is pushed radially outward by an i.i.d. height
H ~ U[a_k, b_k] (Table I: "Uniform"; a == b gives a single altitude). The typical user sits at
(0, 0, R_E). A point at radius rho is visible iff it is above the user's tangent plane, i.e. iff
its distance is <= sqrt(rho^2 - R_E^2). Invisible points neither serve nor interfere.

Geometry of one tier (Park et al. (1)-(42)). With e(h) = R0 + h - R_E (closest possible distance)
and r_max(h) = sqrt((R0 + h)^2 - R_E^2):

    |A(r, h)| = pi R0^2 (r^2 - e(h)^2) / (R_E (R0 + h))  on  e(h) <= r <= r_max(h)   (14)/(7)
    (0 below, 2 pi R0^2 (1 - R_E/(R0 + h)) above)                                    (34)
    Lambda(r) = lambda E_H |A(r, H)|     mean number of visible points within distance r   (33)
    N_bar = Lambda(inf) = 2 pi lambda R0^2 [1 - R_E/(b - a) ln((R0 + b)/(R0 + a))]  (uniform H)
    P_vis = 1 - exp(-N_bar)                                                     (30)/(31)
    Lambda'(r) = lambda 2 pi R0^2 r / (R_E (b - a)) ln((R0 + h2)/(R0 + h1))            (32)
        h1 = max(a, sqrt(r^2 + R_E^2) - R0),  h2 = min(b, r + R_E - R0)              (35)
    P[R > r | visible] = (exp(-Lambda(r)) - exp(-N_bar)) / (1 - exp(-N_bar))           (67)

Because fading and path loss depend on the distance only, the visible points of a tier are a
PPP on the distance axis with intensity Lambda'(x): every integral over (x, h) below is a
single integral over x.

Association and SINR (23)-(25), (43)-(47). The user picks the tier/point with the largest
biased reference power P_k B_k K_k x^-alpha_k (K_k = path-loss constant, 1 in the paper: pure
x^-alpha, Park et al. §II-B). Tier k serving at distance r wins iff no tier-j point lies within

    psi_kj(r) = (P_j B_j K_j / (P_k B_k K_k))^(1/alpha_j) r^(alpha_k/alpha_j)        (43)

so the joint density of "served by tier k at distance r" is
Lambda_k'(r) exp(-Lambda_k(r) - sum_j Lambda_j(psi_kj(r))), whose integral is P_vis,k A_k.
SINR_k = P_k G_k0 K_k |H_0|^2 r^-alpha_k / (sigma^2 + I), I = every other visible point of every
tier with the interferer gain G_jI (22). Interference beyond an exclusion distance e has
Laplace transform (48)/(49)

    L_I(s | e) = exp(-int_e^x_max [1 - M_j(s P_j G_jI K_j x^-alpha_j)] Lambda_j'(x) dx),

M_j = E[exp(-t |H|^2)] (Nakagami: (1 + t/m)^-m; Shadowed-Rician: App. D "(b)",
M(t) = (1 + 2bt)^(m-1) / (1 + (2bm + Omega) t / m)^m).

Coverage (Theorem 1 (50)-(52), exact for any real Shadowed-Rician m). The serving power is an
Erlang series |H_0|^2 ~ sum_k g_k Erlang(k + 1, beta'), hence its CCDF is
sum_n W_n Poisson(n; beta' x) with W_n = sum_{k>=n} g_k, and

    P[SINR > tau | r] = sum_n W_n p_n(s),   s = beta' tau r^alpha / (P G_0 K),
    p_n(s) = (-s)^n / n! d^n/ds^n [exp(-s sigma^2) L_I(s)] = P[Poisson(s Y) = n],

Y = sigma^2 + I. With g(z) = log L(s (1 - z)) = sum_j q_j z^j (q_0 = log L(s) <= 0, every q_j >= 0
for j >= 1), p = coefficients of exp(g): p_0 = exp(q_0), n p_n = sum_{j=1}^n j q_j p_{n-j}, a sum of
non-negative terms (no cancellation, no explicit derivatives). q_j is sigma^2 s for j = 1 plus
int M_j(t) c_j(t) Lambda_j'(x) dx with M c_j = E[(t X)^j e^(-t X)] / j!, from

    Nakagami:         c_j = (m)_j / j! u^j,  u = t / (m + t)
    Shadowed-Rician:  (j+1) c_{j+1} = ((v + w) j + m w - (m - 1) v) c_j - v w j c_{j-1},
                      v = 2bt / (1 + 2bt), w = (2bm + Omega) t / (m + (2bm + Omega) t)
                      (the series of (1 - v z)^(m-1) (1 - w z)^-m; forward recursion computes the
                      dominant solution w^j, so it is stable).

Serving Erlang series (rate beta', weights g_k):
  * Nakagami integer m: beta' = m, g = delta_{k, m-1} ((52); non-integer m raises ValueError).
  * Shadowed-Rician, Kummer form beta' = beta - delta = m / (2bm + Omega),
    g_k = (1 - p)^(m-1) binom(m - 1, k) (Omega / (2bm))^k, p = Omega / (2bm + Omega): for integer m
    these are exactly the m terms alpha zeta(k) k! / (beta - delta)^(k+1) of (84)/(85); for real m
    the same series is infinite and converges absolutely when Omega < 2bm (e.g. FHS m = 0.739).
  * Shadowed-Rician, negative-binomial form beta' = beta = 1/(2b), g_k = NB(k; m, p): exact for
    every m > 0 because |H|^2 | (LoS power) is a Poisson mixture of Erlangs and the Gamma LoS power
    turns the Poisson into a negative binomial (derived from (17) by expanding 1F1).
  The representation with fewer terms for a tail <= 1e-10 is used; the truncation error of the
  coverage is bounded by that tail.

Numerics. Outer (serving distance) and inner (interferer distance) integrals use log-mapped
Gauss-Legendre rules split at every kink of Lambda' and of Lambda(psi(.)); the outer range stops
where the void probability falls below exp(-50). Each curve is computed twice (n and 1.5 n nodes
per piece); the difference is the reported error estimate and must be below ``tol`` (otherwise
the node counts grow by 1.5x, up to ``max_refine`` times, then RuntimeError). Non-finite results
raise FloatingPointError. Thresholds above 1e30 (300 dB) return coverage 0.

Load (53)-(55), Singh-Dhillon-Andrews 2013 [10]: R_k = W / N_k log2(1 + SINR_k). The paper's mean load
L_k = 1 + 1.28 c_k, c_k = lambda_U (R_E / R0_k)^2 P_vis,k A_k / lambda_k (the (R_E/R0)^2 sphere-area
factor is ours [RECON], docs/models/coverage.md), gives tau_k = 2^(R_th L_k / W) - 1 (``load_model="mean"``);
``load_model="distribution"`` averages over N_k - 1 ~ NegBin(4.5, 3.5 / (3.5 + c_k)) (the tagged
Poisson-Voronoi cell, Singh et al.). Both are checked against users dropped, associated and counted
(:mod:`pipeline.solvers.load_simulation`), which uses neither.

Monte Carlo: :func:`simulate` drops exactly this model (PPP restricted to the cap that can be
visible, uniform heights, visibility, nearest-per-tier, biased association, fading of every
link, interference from every other visible point) with a seeded numpy Generator.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
from scipy import special, stats

EARTH_RADIUS_M = 6371e3  # TR 38.811 mean Earth radius
M2_PER_KM2 = 1e6
VOID_CUT = 50.0  # outer integrals stop where the void probability < exp(-50) (~2e-22)
SERIES_TAIL = 1e-10  # truncation of the serving Erlang series (bounds the coverage error)
HUGE_SINR = 1e30  # thresholds above this (300 dB) have coverage 0 to machine precision


# ================================================================== fading
def _positive(value: float, what: str, fix: str) -> float:
    value = float(value)
    if not (value > 0) or not math.isfinite(value):
        raise ValueError(f"{what} = {value} must be a finite number > 0; {fix}")
    return value


@dataclass(frozen=True)
class Nakagami:
    """Nakagami-m fading, unit mean power: |H|^2 ~ Gamma(m, 1/m) ((20)-(21); m = 1 is Rayleigh)."""

    m: float = 1.0

    def __post_init__(self) -> None:
        _positive(self.m, "Nakagami m", "use m >= 0.5 for physical fading (m = 1 is Rayleigh)")

    @property
    def mean_power(self) -> float:
        return 1.0

    def mgf(self, t: Any) -> np.ndarray:
        """E[exp(-t |H|^2)], t >= 0."""
        return np.exp(self.log_mgf(t))

    def log_mgf(self, t: Any) -> np.ndarray:
        return -self.m * np.log1p(np.asarray(t, float) / self.m)

    def ccdf(self, x: Any) -> np.ndarray:
        """P[|H|^2 > x] = Q(m, m x) (regularised upper incomplete gamma)."""
        return special.gammaincc(self.m, self.m * np.maximum(np.asarray(x, float), 0.0))

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        return rng.gamma(self.m, 1.0 / self.m, size)

    def erlang_series(self, tail: float = SERIES_TAIL) -> tuple[float, np.ndarray]:
        """(rate, g): |H|^2 ~ sum_k g_k Erlang(k + 1, rate); needs an integer m (Theorem 1 (52))."""
        mi = round(self.m)
        if abs(self.m - mi) > 1e-9:
            raise ValueError(f"serving-link Nakagami m = {self.m} is not an integer; Theorem 1 (52) needs an "
                             "integer m: round it, or use simulate() for a non-integer m")
        g = np.zeros(mi)
        g[-1] = 1.0
        return float(mi), g

    def lt_terms(self, t: np.ndarray, n_max: int) -> Iterator[np.ndarray]:
        """Yield E[(t X)^j exp(-t X)] / j! for j = 0..n_max (j = 0 is the MGF), elementwise in t."""
        u = t / (self.m + t)
        d = self.mgf(t)
        yield d
        for j in range(1, n_max + 1):
            d = d * ((self.m + j - 1) / j) * u
            yield d


@dataclass(frozen=True)
class ShadowedRician:
    """Shadowed-Rician fading power |H|^2 = |A + Z|^2 (Abdi et al. 2003 [31], (17)):
    Z ~ CN(0, 2b) scatter, |A|^2 ~ Gamma(m, Omega/m) LoS power; mean power 2b + Omega."""

    b: float
    m: float
    omega: float

    def __post_init__(self) -> None:
        _positive(self.b, "Shadowed-Rician b", "it is half the scatter power (Table II: 0.063 to 0.158)")
        _positive(self.m, "Shadowed-Rician m", "it is the Nakagami parameter of the LoS part (Table II: 0.739 to 19.4)")
        if not (self.omega >= 0) or not math.isfinite(self.omega):
            raise ValueError(f"Shadowed-Rician omega = {self.omega} must be a finite number >= 0; it is the LoS "
                             "power (0 gives Rayleigh with mean 2b)")

    @property
    def mean_power(self) -> float:
        return 2 * self.b + self.omega

    def log_mgf(self, t: Any) -> np.ndarray:
        """log E[exp(-t |H|^2)] = (m - 1) log(1 + 2bt) - m log(1 + (2bm + Omega) t / m) (App. D)."""
        t = np.asarray(t, float)
        return (self.m - 1) * np.log1p(2 * self.b * t) - self.m * np.log1p((2 * self.b * self.m + self.omega) * t / self.m)

    def mgf(self, t: Any) -> np.ndarray:
        return np.exp(self.log_mgf(t))

    def pdf(self, x: Any) -> np.ndarray:
        """Power pdf (19) = alpha exp(-beta x) 1F1(m; 1; delta x), written in Kummer's form
        alpha exp(-(beta - delta) x) 1F1(1 - m; 1; -delta x) (same function, no overflow)."""
        x = np.maximum(np.asarray(x, float), 0.0)
        b, m, om = self.b, self.m, self.omega
        alpha = (2 * b * m / (2 * b * m + om)) ** m / (2 * b)
        beta = 1 / (2 * b)
        delta = om / (2 * b * (2 * b * m + om))
        return alpha * np.exp(-(beta - delta) * x) * special.hyp1f1(1 - m, 1, -delta * x)

    def erlang_series(self, tail: float = SERIES_TAIL) -> tuple[float, np.ndarray]:
        """(rate, g): |H|^2 ~ sum_k g_k Erlang(k + 1, rate), the shorter of the Kummer and the
        negative-binomial series (module docstring) with sum_{k>N} |g_k| <= tail."""
        b, m, om = self.b, self.m, self.omega
        p = om / (2 * b * m + om)
        best: tuple[float, np.ndarray] | None = None
        rho = om / (2 * b * m)
        if rho < 0.9:  # Kummer form converges absolutely (geometric tail with ratio <= rho)
            g = [(1 - p) ** (m - 1)]
            for k in range(2000):
                nxt = g[-1] * (m - 1 - k) / (k + 1) * rho
                if nxt == 0.0 or (k + 1 >= m - 1 and abs(nxt) / (1 - rho) <= tail):
                    break
                g.append(nxt)
            else:
                g = None
            if g is not None:
                best = (m / (2 * b * m + om), np.array(g))
        if p == 0.0:
            nb = (1 / (2 * b), np.array([1.0]))
        else:
            n = int(stats.nbinom.isf(tail, m, 1 - p)) + 1
            nb = (1 / (2 * b), stats.nbinom.pmf(np.arange(n + 1), m, 1 - p))
        if best is None or len(nb[1]) < len(best[1]):
            best = nb
        return best

    def ccdf(self, x: Any, tail: float = 1e-14) -> np.ndarray:
        """P[|H|^2 > x] = sum_n W_n Poisson(n; rate x), exact series (any real m), error <= tail."""
        x = np.maximum(np.asarray(x, float), 0.0)
        rate, g = self.erlang_series(tail)
        w = np.cumsum(g[::-1])[::-1]  # W_n = sum_{k>=n} g_k
        n = np.arange(len(g)).reshape((-1,) + (1,) * x.ndim)
        return np.clip((w.reshape(n.shape) * stats.poisson.pmf(n, rate * x)).sum(0), 0.0, 1.0)

    def cdf(self, x: Any) -> np.ndarray:
        return 1.0 - self.ccdf(x)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Physical draw |sqrt(G) + Z|^2 with G ~ Gamma(m, Omega/m), Z ~ CN(0, 2b) (independent of the series)."""
        los = rng.gamma(self.m, self.omega / self.m, size) if self.omega > 0 else np.zeros(size)
        z = rng.normal(0.0, math.sqrt(self.b), (2, size))
        return (np.sqrt(los) + z[0]) ** 2 + z[1] ** 2

    def lt_terms(self, t: np.ndarray, n_max: int) -> Iterator[np.ndarray]:
        """Yield E[(t X)^j exp(-t X)] / j! for j = 0..n_max via the three-term recursion (docstring)."""
        b, m, om = self.b, self.m, self.omega
        v = 2 * b * t / (1 + 2 * b * t)
        c = (2 * b * m + om) * t
        w = c / (m + c)
        d_prev = None
        d = self.mgf(t)
        yield d
        if n_max >= 1:
            a_vw, b_c, vw = v + w, m * w - (m - 1) * v, v * w
            d_prev, d = d, b_c * d
            yield d
            for j in range(1, n_max):
                d_prev, d = d, ((a_vw * j + b_c) * d - vw * j * d_prev) / (j + 1)
                yield d


Fading = Nakagami | ShadowedRician

# Table II of Park et al. = Abdi et al. 2003 Table III ([SRC]: three public implementations agree); "RAYLEIGH"
# is the Omega -> 0, 2b = 1 limit used for the Fig. 3 validation (Park et al. §IV text).
SR_PRESETS: dict[str, ShadowedRician] = {
    "FHS": ShadowedRician(b=0.063, m=0.739, omega=8.97e-4),  # frequent heavy shadowing
    "AS": ShadowedRician(b=0.126, m=10.1, omega=0.835),  # average shadowing
    "ILS": ShadowedRician(b=0.158, m=19.4, omega=1.29),  # infrequent light shadowing
    "RAYLEIGH": ShadowedRician(b=0.5, m=1.0, omega=0.0),
}


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


# ================================================================== one tier
@dataclass(frozen=True)
class Tier:
    """One layer of the STIN: PPP on the sphere of radius ``base_radius_m`` with U[a, b] heights."""

    name: str
    density_per_km2: float  # lambda, per km^2 of the base sphere
    base_radius_m: float  # R0 (R_E + h_S for satellites, R_E for TBSs)
    height_min_m: float  # a
    height_max_m: float  # b
    power_dbm: float  # P
    gain_serving_dbi: float  # G_0 = main lobe (Tx x Rx) (22)
    gain_interf_dbi: float  # G_I = side lobe towards other users (22)
    pl_exponent: float  # alpha
    bias_db: float = 0.0  # B (association only)
    fading: Fading = field(default_factory=Nakagami)  # fading of this tier's interfering links
    serving_fading: Fading | None = None  # fading of the serving link (default: same as ``fading``)
    path_loss_ref_db: float = 0.0  # K in dB: 0 = pure x^-alpha (Park et al. §II-B)
    earth_radius_m: float = EARTH_RADIUS_M
    active_fraction: float = 1.0  # independent thinning of interferers (1 = all transmit)

    def __post_init__(self) -> None:
        n = self.name
        if not (self.density_per_km2 >= 0) or not math.isfinite(self.density_per_km2):
            raise ValueError(f"tier {n!r}: density_per_km2 = {self.density_per_km2} is invalid; use a finite density "
                             ">= 0 per km^2 (0 removes the tier)")
        if not (self.base_radius_m >= self.earth_radius_m):
            raise ValueError(f"tier {n!r}: base_radius_m = {self.base_radius_m} is below the Earth radius "
                             f"{self.earth_radius_m}; use R_E + standard altitude (R_E for ground BSs)")
        if not (0 <= self.height_min_m <= self.height_max_m) or not math.isfinite(self.height_max_m):
            raise ValueError(f"tier {n!r}: heights [{self.height_min_m}, {self.height_max_m}] m are invalid; "
                             "use 0 <= height_min_m <= height_max_m")
        if self.base_radius_m + self.height_min_m - self.earth_radius_m <= 0:
            raise ValueError(f"tier {n!r}: points at radius R_E are never visible (Park et al., arXiv 2307.03343, Remark 1); "
                             "give ground BSs height_min_m > 0 (e.g. 10 m)")
        _positive(self.pl_exponent, f"tier {n!r}: pl_exponent", "use e.g. 2 (LoS satellite) or 3.5 (urban TBS)")
        if not (0 < self.active_fraction <= 1):
            raise ValueError(f"tier {n!r}: active_fraction = {self.active_fraction} must be in (0, 1]")
        for f in ("power_dbm", "gain_serving_dbi", "gain_interf_dbi", "bias_db", "path_loss_ref_db"):
            if not math.isfinite(getattr(self, f)):
                raise ValueError(f"tier {n!r}: {f} = {getattr(self, f)} must be finite (dB values)")

    # ---------------------------------------------------------------- linear quantities
    @property
    def lam_m2(self) -> float:
        return self.density_per_km2 / M2_PER_KM2

    @property
    def serving(self) -> Fading:
        return self.serving_fading if self.serving_fading is not None else self.fading

    @property
    def power_w(self) -> float:
        return 10 ** ((self.power_dbm - 30) / 10)

    @property
    def k_lin(self) -> float:
        return 10 ** (self.path_loss_ref_db / 10)

    @property
    def rx_serving(self) -> float:
        """P G_0 K (W): received power at 1 m before fading."""
        return self.power_w * 10 ** (self.gain_serving_dbi / 10) * self.k_lin

    @property
    def rx_interf(self) -> float:
        return self.power_w * 10 ** (self.gain_interf_dbi / 10) * self.k_lin

    @property
    def log_ref(self) -> float:
        """log(P B K): the association metric at 1 m (natural log)."""
        return math.log(self.power_w) + math.log(10) * (self.bias_db + self.path_loss_ref_db) / 10

    # ---------------------------------------------------------------- geometry
    def _rmax(self, h: Any) -> np.ndarray:
        rho = self.base_radius_m + np.asarray(h, float)
        return np.sqrt((rho - self.earth_radius_m) * (rho + self.earth_radius_m))

    @property
    def x_lo(self) -> float:
        """Smallest possible distance R0 + a - R_E (36)."""
        return self.base_radius_m + self.height_min_m - self.earth_radius_m

    @property
    def x_hi(self) -> float:
        """Largest visible distance sqrt((R0 + b)^2 - R_E^2) (36)."""
        return float(self._rmax(self.height_max_m))

    @property
    def breakpoints(self) -> np.ndarray:
        """x_lo, the kinks of Lambda' (r_max(a), R0 + b - R_E) and x_hi, sorted."""
        pts = {self.x_lo, self.x_hi, float(self._rmax(self.height_min_m)),
               self.base_radius_m + self.height_max_m - self.earth_radius_m}
        return np.array(sorted(p for p in pts if self.x_lo <= p <= self.x_hi))

    def _h_crit(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """hc(x): below it the point is visible with distance < x for sure (cap saturated);
        hd(x): above it the point is farther than x. hc = sqrt(x^2 + R_E^2) - R0 (stable form)."""
        re, r0 = self.earth_radius_m, self.base_radius_m
        hc = x**2 / (np.sqrt(x**2 + re**2) + re) + (re - r0)
        return hc, x + re - r0

    def mean_visible(self) -> float:
        """N_bar: mean number of visible points (Lemma 1 / Corollary 1, docs/models/coverage.md)."""
        if self.density_per_km2 == 0:
            return 0.0
        re, r0, a, b = self.earth_radius_m, self.base_radius_m, self.height_min_m, self.height_max_m
        if b - a <= 1e-9 * r0:
            return self.lam_m2 * 2 * math.pi * r0**2 * (r0 + a - re) / (r0 + a)
        d = b - a
        # (b - a) - R_E ln((R0 + b)/(R0 + a)) written as a sum of non-negative terms
        core = d * (r0 + a - re) / (r0 + a) + re * float(_y_minus_log1p(d / (r0 + a)))
        return self.lam_m2 * 2 * math.pi * r0**2 * core / d

    def visibility_probability(self) -> float:
        """P_vis = 1 - exp(-N_bar) (30)/(31)."""
        return float(-np.expm1(-self.mean_visible()))

    def void(self, x: Any, n_h: int = 16) -> np.ndarray:
        """Lambda(x) (33): mean number of visible points within distance x (saturates at N_bar)."""
        x = np.asarray(x, float)
        if self.density_per_km2 == 0:
            return np.zeros_like(x)
        re, r0, a, b = self.earth_radius_m, self.base_radius_m, self.height_min_m, self.height_max_m
        hc, hd = self._h_crit(x)
        if b - a <= 1e-9 * r0:
            e = r0 + a - re
            part = math.pi * r0**2 * (np.clip(x, e, float(self._rmax(a))) ** 2 - e**2) / (re * (r0 + a))
            return self.lam_m2 * part
        # saturated caps for h in [a, min(b, hc)]
        h_full = np.clip(hc, a, b)
        dfull = h_full - a
        full = 2 * math.pi * r0**2 * (dfull * (r0 + a - re) / (r0 + a) + re * _y_minus_log1p(dfull / (r0 + a)))
        # partial caps (14) for h in [max(a, hc), min(b, hd)]
        lo = h_full
        hi = np.clip(hd, lo, b)
        u, wu = _gauss_legendre01(n_h)
        h = lo[..., None] + (hi - lo)[..., None] * u
        rho = r0 + h
        area = math.pi * r0**2 * (x[..., None] ** 2 - (rho - re) ** 2) / (re * rho)
        part = (np.maximum(area, 0.0) * wu).sum(-1) * (hi - lo)
        return self.lam_m2 * (full + part) / (b - a)

    def intensity(self, x: Any) -> np.ndarray:
        """Lambda'(x): density of visible points per metre of distance (kernel of (32), (48))."""
        x = np.asarray(x, float)
        if self.density_per_km2 == 0:
            return np.zeros_like(x)
        re, r0, a, b = self.earth_radius_m, self.base_radius_m, self.height_min_m, self.height_max_m
        if b - a <= 1e-9 * r0:
            inside = (x >= self.x_lo) & (x <= self.x_hi)
            return np.where(inside, self.lam_m2 * 2 * math.pi * r0**2 * x / (re * (r0 + a)), 0.0)
        hc, hd = self._h_crit(x)
        h1 = np.maximum(a, hc)
        h2 = np.minimum(b, hd)
        val = self.lam_m2 * 2 * math.pi * r0**2 * x / (re * (b - a)) * np.log1p(np.maximum(h2 - h1, 0.0) / (r0 + h1))
        return np.where(h2 > h1, val, 0.0)

    def nearest_ccdf(self, r: Any) -> np.ndarray:
        """P[R > r | at least one visible] (67)."""
        nb = self.mean_visible()
        if nb == 0:
            raise ValueError(f"tier {self.name!r} has density 0: no nearest point to describe")
        lam = self.void(r)
        return np.clip(np.exp(-lam) * -np.expm1(-(nb - lam)) / -np.expm1(-nb), 0.0, 1.0)

    def nearest_pdf(self, r: Any) -> np.ndarray:
        """f_R(r) conditioned on visibility (32)/(38)."""
        nb = self.mean_visible()
        if nb == 0:
            raise ValueError(f"tier {self.name!r} has density 0: no nearest point to describe")
        return self.intensity(r) * np.exp(-self.void(r)) / -np.expm1(-nb)


def _psi_log(src: Tier, dst: Tier, log_r: np.ndarray) -> np.ndarray:
    """log psi: distance within which a dst point beats a src point at exp(log_r) (43)."""
    return (dst.log_ref - src.log_ref) / dst.pl_exponent + (src.pl_exponent / dst.pl_exponent) * log_r


# ================================================================== network
@dataclass(frozen=True)
class Network:
    """Tiers sharing one band: noise power sigma^2 = N0 W (W) and bandwidth W (Hz)."""

    tiers: tuple[Tier, ...]
    noise_w: float
    bandwidth_hz: float

    def __post_init__(self) -> None:
        if not self.tiers:
            raise ValueError("a network needs at least one tier")
        if len({t.earth_radius_m for t in self.tiers}) != 1:
            raise ValueError("all tiers must use the same earth_radius_m")
        if not (self.noise_w >= 0) or not math.isfinite(self.noise_w):
            raise ValueError(f"noise_w = {self.noise_w} must be a finite power >= 0 (W)")
        _positive(self.bandwidth_hz, "bandwidth_hz", "give the shared bandwidth in Hz (e.g. 20e6)")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tiers)


@dataclass(frozen=True)
class StinParams:
    """Two-tier STIN of Park et al. (one satellite shell + terrestrial BSs); flat, for params.yaml.

    Park et al.'s Table I is not recoverable [MISSING] (docs/models/coverage.md): every default below is a
    documented placeholder with its source. Densities per km^2 of the tier's own base sphere.
    """

    # ---- satellites
    sat_density_per_km2: float = 5e-7  # [PLACEHOLDER] Li & Shang (arXiv 2411.04675) §V NTN density; Table I missing
    sat_altitude_m: float = 500e3  # h_S [PLACEHOLDER] a "500-600 km band"
    sat_height_min_m: float = 0.0  # a_S: altitudes U[500, 600] km [PLACEHOLDER]
    sat_height_max_m: float = 100e3  # b_S
    sat_power_dbm: float = 47.0  # TR 38.821 Table 6.1.1.1-1 Set-1 LEO-600 S-band: 34 dBW/MHz + 10log10(20) - 30 dBi
    sat_gain_serving_dbi: float = 30.0  # G_S0: TR 38.821 LEO-600 max gain x 0 dBi handheld UE (Table 6.1.1.1-3)
    sat_gain_interf_dbi: float = 10.0  # G_SI: Li & Shang §V side lobe G_sl; convention (22) unverified
    sat_pl_exponent: float = 2.0  # alpha_S: LoS, Park et al. §II-B
    sat_bias_db: float = 0.0  # B_S
    sr_b: float = 0.126  # Shadowed-Rician AS preset, Park et al. Table II (= Abdi et al. 2003 Table III [SRC])
    sr_m: float = 10.1
    sr_omega: float = 0.835
    # ---- terrestrial BSs
    tbs_density_per_km2: float = 6e-3  # [PLACEHOLDER] Li & Shang §V rural BS density
    tbs_height_min_m: float = 10.0  # H_T ~ U[10, 50] m [PLACEHOLDER]
    tbs_height_max_m: float = 50.0
    tbs_power_dbm: float = 46.0  # P_T [PLACEHOLDER] = Li & Shang §V P_T
    tbs_gain_serving_dbi: float = 10.0  # G_T0 [PLACEHOLDER] validation cases of docs/models/coverage.md
    tbs_gain_interf_dbi: float = 10.0  # G_TI [PLACEHOLDER] validation cases of docs/models/coverage.md
    tbs_pl_exponent: float = 3.5  # alpha_T: Li & Shang §V; Park et al. only say "urban => larger" [PLACEHOLDER]
    tbs_bias_db: float = 0.0  # B_T
    nakagami_m_tbs: float = 1.0  # m_T [MISSING] in Park et al. §V; 1 = Rayleigh (the Fig. 3 case)
    # ---- common
    bandwidth_hz: float = 20e6  # W [PLACEHOLDER] (the "Gbps" of Fig. 4 hints at a wider band)
    noise_psd_dbm_per_hz: float = -174.0  # thermal N0 at 290 K
    noise_figure_db: float = 7.0  # handheld UE, TR 38.821 Table 6.1.1.1-3
    carrier_hz: float = 2.0e9  # S-band, TR 38.821 Set-1; used only by path_loss_ref
    path_loss_ref: str = "none"  # "none": pure d^-alpha (Park et al. §II-B); "free_space_1m": K = (c/(4 pi f))^2
    earth_radius_m: float = EARTH_RADIUS_M  # TR 38.811

    def __post_init__(self) -> None:
        if self.path_loss_ref not in ("none", "free_space_1m"):
            raise ValueError(f"path_loss_ref = {self.path_loss_ref!r} is unknown; use 'none' (Park et al.'s pure d^-alpha) or 'free_space_1m'")
        _positive(self.carrier_hz, "carrier_hz", "give the carrier in Hz (e.g. 2e9)")
        _positive(self.sat_altitude_m, "sat_altitude_m", "give the standard altitude h_S in m (e.g. 500e3)")
        self.network()  # validates every tier and fading parameter with its own message

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> StinParams:
        """Build from a params.yaml group; unknown keys raise ValueError naming them."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown coverage parameter(s) {unknown}; known: {sorted(known)}")
        return cls(**dict(values))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_shadowing(self, preset: str) -> StinParams:
        """Same parameters with a Table II Shadowed-Rician preset (FHS, AS, ILS, RAYLEIGH)."""
        key = preset.upper()
        if key not in SR_PRESETS:
            raise ValueError(f"unknown shadowing preset {preset!r}; use one of {sorted(SR_PRESETS)}")
        sr = SR_PRESETS[key]
        return replace(self, sr_b=sr.b, sr_m=sr.m, sr_omega=sr.omega)

    @property
    def noise_w(self) -> float:
        return 10 ** ((self.noise_psd_dbm_per_hz + self.noise_figure_db - 30) / 10) * self.bandwidth_hz

    @property
    def path_loss_ref_db(self) -> float:
        if self.path_loss_ref == "none":
            return 0.0
        return 20 * math.log10(299_792_458.0 / (4 * math.pi * self.carrier_hz))

    def network(self) -> Network:
        k = self.path_loss_ref_db
        sr = ShadowedRician(self.sr_b, self.sr_m, self.sr_omega)
        sat = Tier("sat", self.sat_density_per_km2, self.earth_radius_m + self.sat_altitude_m, self.sat_height_min_m,
                   self.sat_height_max_m, self.sat_power_dbm, self.sat_gain_serving_dbi, self.sat_gain_interf_dbi,
                   self.sat_pl_exponent, self.sat_bias_db, sr, None, k, self.earth_radius_m)
        tbs = Tier("tbs", self.tbs_density_per_km2, self.earth_radius_m, self.tbs_height_min_m, self.tbs_height_max_m,
                   self.tbs_power_dbm, self.tbs_gain_serving_dbi, self.tbs_gain_interf_dbi, self.tbs_pl_exponent,
                   self.tbs_bias_db, Nakagami(self.nakagami_m_tbs), None, k, self.earth_radius_m)
        return Network((sat, tbs), self.noise_w, self.bandwidth_hz)


NetLike = Network | StinParams


def _as_network(net: NetLike) -> Network:
    if isinstance(net, StinParams):
        return net.network()
    if isinstance(net, Network):
        return net
    raise TypeError(f"expected Network or StinParams, got {type(net).__name__}")


# ================================================================== analytic pieces
def interference_laplace(tier: Tier, s: Any, exclusion_m: Any, n_nodes: int = 48) -> np.ndarray:
    """Conditional Laplace transform (48)/(49) of the tier's interference beyond ``exclusion_m``.

    E[exp(-s I)], I = sum over visible points farther than the exclusion of P G_I K |H|^2 x^-alpha
    (thinned by active_fraction). s and exclusion_m broadcast.
    """
    s, e = np.broadcast_arrays(np.asarray(s, float), np.asarray(exclusion_m, float))
    if tier.density_per_km2 == 0:
        return np.ones(s.shape)
    x, w = piecewise_nodes(np.maximum(e, tier.x_lo), tier.breakpoints, n_nodes)
    t = s[..., None] * tier.rx_interf * x ** -tier.pl_exponent
    one_minus = -np.expm1(tier.fading.log_mgf(t))
    return np.exp(-tier.active_fraction * (one_minus * tier.intensity(x) * w).sum(-1))


def _outer_breakpoints(net: Network, k: int) -> tuple[np.ndarray, float]:
    """Breakpoints of the serving-distance integral of tier k and the cut where the void < e^-VOID_CUT."""
    tk = net.tiers[k]
    pts = list(tk.breakpoints)
    for j, tj in enumerate(net.tiers):
        if j != k and tj.density_per_km2 > 0:
            # psi_kj(r) = bp  <=>  r = psi_jk(bp)
            pts += list(np.exp(_psi_log(tj, tk, np.log(tj.breakpoints))))
    grid = np.geomspace(tk.x_lo, tk.x_hi, 513)
    v = _void_total(net, k, grid)
    over = np.flatnonzero(v > VOID_CUT)
    cut = float(grid[over[0]]) if over.size else tk.x_hi
    cut = max(cut, float(grid[1]))
    pts = sorted({p for p in pts if tk.x_lo <= p < cut} | {tk.x_lo, cut})
    return np.array(pts), cut


def _void_total(net: Network, k: int, r: np.ndarray) -> np.ndarray:
    """Lambda_k(r) + sum_j Lambda_j(psi_kj(r)): minus log of P[no point beats the serving one]."""
    tk = net.tiers[k]
    v = tk.void(r)
    for j, tj in enumerate(net.tiers):
        if j != k and tj.density_per_km2 > 0:
            v = v + tj.void(np.exp(_psi_log(tk, tj, np.log(r))))
    return v


def _joint_coverage(net: Network, tau: np.ndarray, n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray]:
    """P[k* = k, SINR_k > tau[k, i]] (K, T) and P[k* = k] (K,) with fixed node counts."""
    n_t = tau.shape[1]
    cov = np.zeros((len(net.tiers), n_t))
    assoc = np.zeros(len(net.tiers))
    for k, tk in enumerate(net.tiers):
        if tk.density_per_km2 == 0:
            continue
        bps, _ = _outer_breakpoints(net, k)
        r, wr = piecewise_nodes(tk.x_lo, bps, n_out)
        dens = tk.intensity(r) * np.exp(-_void_total(net, k, r)) * wr  # (R,)
        assoc[k] = dens.sum()
        rate, g = tk.serving.erlang_series()
        n_max = len(g) - 1
        w_tail = np.cumsum(g[::-1])[::-1]
        tk_tau = tau[k]
        finite = tk_tau <= HUGE_SINR
        s = rate * np.where(finite, tk_tau, 0.0)[:, None] * r[None, :] ** tk.pl_exponent / tk.rx_serving  # (T, R)
        q = np.zeros((n_max + 1, n_t, r.size))
        q[0] = -s * net.noise_w
        if n_max >= 1:
            q[1] = s * net.noise_w
        log_r = np.log(r)
        for j, tj in enumerate(net.tiers):
            if tj.density_per_km2 == 0:
                continue
            excl = r if j == k else np.exp(_psi_log(tk, tj, log_r))
            x, wx = piecewise_nodes(np.maximum(excl, tj.x_lo), tj.breakpoints, n_in)  # (R, X)
            omega = tj.active_fraction * tj.intensity(x) * wx
            t = s[:, :, None] * (tj.rx_interf * x ** -tj.pl_exponent)[None]  # (T, R, X)
            q[0] -= np.einsum("trx,rx->tr", -np.expm1(tj.fading.log_mgf(t)), omega)
            for n, d in enumerate(tj.fading.lt_terms(t, n_max)):
                if n >= 1:
                    q[n] += np.einsum("trx,rx->tr", d, omega)
        p = poisson_mixture_probs(q)
        pc = np.tensordot(w_tail, p, axes=(0, 0))  # (T, R)
        cov[k] = np.where(finite, pc @ dens, 0.0)
    return cov, assoc


@dataclass(frozen=True)
class CoverageResult:
    """Analytic coverage: per-tier joint P[k* = k, covered], their sum, and diagnostics."""

    thresholds: np.ndarray  # as given by the caller (SINR in dB, or rate in bit/s)
    total: np.ndarray  # (T,)
    per_tier: np.ndarray  # (K, T)
    association: np.ndarray  # (K,) P[k* = k] = P_vis,k A_k
    error_estimate: float  # max |difference| between the two quadrature levels
    tier_names: tuple[str, ...]
    loads: np.ndarray | None = None  # (K,) L_k when the load model was used


def coverage_given_tau(net: NetLike, tau: Any, *, tol: float = 1e-5, nodes: tuple[int, int] = (16, 12),
                       max_refine: int = 3) -> CoverageResult:
    """Joint coverage for per-tier linear SINR thresholds tau (K, T) (or (T,) shared), error-controlled."""
    net = _as_network(net)
    tau = np.asarray(tau, float)
    if tau.ndim <= 1:
        tau = np.broadcast_to(np.atleast_1d(tau), (len(net.tiers), np.atleast_1d(tau).size))
    if np.isnan(tau).any() or (tau < 0).any():
        raise ValueError("SINR thresholds must be >= 0 in linear scale (no NaN)")
    n_out, n_in = nodes
    prev, _ = _joint_coverage(net, tau, n_out, n_in)
    for _level in range(max_refine + 1):
        n_out2, n_in2 = (3 * n_out + 1) // 2, (3 * n_in + 1) // 2
        cov, assoc = _joint_coverage(net, tau, n_out2, n_in2)
        if not (np.isfinite(cov).all() and np.isfinite(assoc).all()):
            raise FloatingPointError("non-finite coverage from the quadrature; check the parameters")
        err = float(np.max(np.abs(cov - prev))) if cov.size else 0.0
        if err <= tol:
            break
        prev, n_out, n_in = cov, n_out2, n_in2
    else:
        raise RuntimeError(f"coverage quadrature did not reach tol={tol} (last change {err:.2e}) "
                           f"with {n_out2}/{n_in2} nodes per piece; loosen tol or raise nodes")
    cov = np.clip(cov, 0.0, 1.0)
    return CoverageResult(tau[0].copy(), cov.sum(0), cov, assoc, err, net.names)


def association_probabilities(net: NetLike, n_nodes: int = 64) -> np.ndarray:
    """P[k* = k] = P_vis,k A_k for every tier (Lemma 3 (43), Corollary 3 (46)); sums to
    1 - exp(-sum N_bar)."""
    net = _as_network(net)
    out = np.zeros(len(net.tiers))
    for k, tk in enumerate(net.tiers):
        if tk.density_per_km2 == 0:
            continue
        bps, _ = _outer_breakpoints(net, k)
        r, wr = piecewise_nodes(tk.x_lo, bps, n_nodes)
        out[k] = float((tk.intensity(r) * np.exp(-_void_total(net, k, r)) * wr).sum())
    return out


def conditional_association(net: NetLike) -> np.ndarray:
    """A_k = P[k* = k | tier k visible] (43)/(46); NaN-free: 0 for an empty tier."""
    net = _as_network(net)
    joint = association_probabilities(net)
    pv = np.array([t.visibility_probability() for t in net.tiers])
    return np.divide(joint, pv, out=np.zeros_like(joint), where=pv > 0)


def serving_distance_pdf(net: NetLike, k: int, r: Any) -> np.ndarray:
    """f_{R_k | k* = k}(r) (44)/(47)."""
    net = _as_network(net)
    a = association_probabilities(net)[k]
    if a <= 0:
        raise ValueError(f"tier {net.tiers[k].name!r} is never associated; its serving-distance pdf is undefined")
    r = np.asarray(r, float)
    return net.tiers[k].intensity(r) * np.exp(-_void_total(net, k, np.maximum(r, 1e-9))) / a


def load_factors(net: NetLike, user_density_per_km2: float) -> np.ndarray:
    """L_k = 1 + 1.28 lambda_U (R_E/R0_k)^2 P[k* = k] / lambda_k (54) (Singh et al. [10]; the
    (R_E/R0)^2 factor is ours [RECON], docs/models/coverage.md); 1 for an empty tier."""
    if not (user_density_per_km2 >= 0):
        raise ValueError(f"user_density_per_km2 = {user_density_per_km2} must be >= 0 (users per km^2 of ground)")
    net = _as_network(net)
    assoc = association_probabilities(net)
    return _loads_from_assoc(net, assoc, user_density_per_km2)


def _loads_from_assoc(net: Network, assoc: np.ndarray, user_density_per_km2: float) -> np.ndarray:
    out = np.ones(len(net.tiers))
    for k, t in enumerate(net.tiers):
        if t.density_per_km2 > 0:
            out[k] = 1 + 1.28 * user_density_per_km2 * (t.earth_radius_m / t.base_radius_m) ** 2 * assoc[k] / t.density_per_km2
    return out


def sinr_coverage(net: NetLike, sinr_threshold_db: Any, **kw: Any) -> CoverageResult:
    """Theorem 1 (50)-(52) in SINR form: P[SINR > threshold], thresholds in dB (vectorised)."""
    thr = np.atleast_1d(np.asarray(sinr_threshold_db, float))
    res = coverage_given_tau(net, 10 ** (thr / 10), **kw)
    return replace(res, thresholds=thr)


LOAD_MODELS = ("mean", "distribution")
CELL_AREA_SHAPE = 3.5  # Poisson-Voronoi cell area ~ Gamma(3.5, 3.5 lambda) (Ferenc & Neda 2007; Singh et al. [10])


def load_distribution(net: NetLike, user_density_per_km2: float, tail: float = 1e-8) -> list[np.ndarray]:
    """P[N_k = n + 1], n = 0, 1, ..., for every tier: the load of the typical user's station (Singh, Dhillon, Andrews 2013 [10]).

    The typical user's (tagged) tier-k cell has the size-biased area of a typical cell, Gamma(3.5 + 1, 3.5 / a_k)
    with a_k = P[k* = k] (R_E/R0_k)^2 / lambda_k its mean ground area per station, and holds Poisson(lambda_U area)
    other users, so N_k - 1 is negative binomial(4.5, 3.5 / (3.5 + c_k)), c_k = lambda_U a_k, of mean 1.28 c_k
    (the mean load (54) is 1 + 1.28 c_k). Truncated where the tail is below ``tail``."""
    if not (user_density_per_km2 >= 0):
        raise ValueError(f"user_density_per_km2 = {user_density_per_km2} must be >= 0 (users per km^2 of ground)")
    net = _as_network(net)
    assoc = association_probabilities(net)
    out = []
    for k, t in enumerate(net.tiers):
        c = 0.0 if t.density_per_km2 == 0 else (
            user_density_per_km2 * (t.earth_radius_m / t.base_radius_m) ** 2 * assoc[k] / t.density_per_km2)
        if c == 0:
            out.append(np.array([1.0]))
            continue
        p = CELL_AREA_SHAPE / (CELL_AREA_SHAPE + c)
        n_max = int(stats.nbinom.isf(tail, CELL_AREA_SHAPE + 1, p)) + 1
        out.append(stats.nbinom.pmf(np.arange(n_max + 1), CELL_AREA_SHAPE + 1, p))
    return out


def rate_coverage(net: NetLike, rate_threshold_bps: Any, user_density_per_km2: float | None = None,
                  load_model: str = "mean", **kw: Any) -> CoverageResult:
    """P[R > R_th] (26)/(50); with ``user_density_per_km2`` the load model is applied: ``"mean"`` is (53)-(55)
    (every tier-k user gets W / L_k, L_k the mean load (54)), ``"distribution"`` averages over the load
    distribution of :func:`load_distribution` (SINR and load taken independent, as in Singh et al. [10]):

        P[R > R_th] = sum_k sum_n P[N_k = n + 1] P[k* = k, SINR_k > 2^(R_th (n + 1) / W) - 1]
    """
    net = _as_network(net)
    rth = np.atleast_1d(np.asarray(rate_threshold_bps, float))
    if (rth < 0).any() or np.isnan(rth).any():
        raise ValueError("rate thresholds must be >= 0 bit/s")
    if load_model not in LOAD_MODELS:
        raise ValueError(f"load_model = {load_model!r} is unknown; use one of {LOAD_MODELS}")
    if user_density_per_km2 is not None and load_model == "distribution":
        return _rate_coverage_load_distribution(net, rth, user_density_per_km2, **kw)
    loads = np.ones(len(net.tiers)) if user_density_per_km2 is None else load_factors(net, user_density_per_km2)
    with np.errstate(over="ignore"):
        tau = np.expm1(np.log(2) * rth[None, :] * loads[:, None] / net.bandwidth_hz)
    res = coverage_given_tau(net, tau, **kw)
    return replace(res, thresholds=rth, loads=None if user_density_per_km2 is None else loads)


def _rate_coverage_load_distribution(net: Network, rth: np.ndarray, user_density_per_km2: float,
                                     grid_step_db: float = 1.0, **kw: Any) -> CoverageResult:
    """Per-tier SINR coverage on a dB grid (monotone cubic interpolation between grid points; the grid stops where the
    coverage of every tier is below 1e-9, found on a 2 dB pre-grid), averaged over the load distributions."""
    probs = load_distribution(net, user_density_per_km2)
    lo_db, hi_db = -80.0, 10 * math.log10(HUGE_SINR)
    with np.errstate(over="ignore", divide="ignore"):
        db = [10 * np.log10(np.expm1(np.log(2) * rth[:, None] * np.arange(1, p.size + 1)[None] / net.bandwidth_hz))
              for p in probs]
    need = np.concatenate([d[np.isfinite(d)].ravel() for d in db] + [np.array([lo_db])])
    g_lo, g_hi = max(lo_db, float(need.min()) - 1), min(hi_db, float(need.max()) + 1)
    coarse = np.arange(g_lo, g_hi + 2.0, 2.0)
    cov_c = coverage_given_tau(net, 10 ** (coarse / 10), **kw).per_tier.max(0)
    alive = np.flatnonzero(cov_c > 1e-9)
    top = float(coarse[min(alive[-1] + 1, coarse.size - 1)]) if alive.size else g_lo
    grid = np.arange(g_lo, top + grid_step_db, grid_step_db)
    res = coverage_given_tau(net, 10 ** (grid / 10), **kw)
    per_tier = np.zeros((len(net.tiers), rth.size))
    from scipy.interpolate import PchipInterpolator  # noqa: PLC0415

    for k, (p, d) in enumerate(zip(probs, db)):
        if grid.size < 2:
            continue
        x = np.clip(d, g_lo, None)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # flat stretches: zero slopes
            interp = PchipInterpolator(grid, res.per_tier[k])
        cov = np.where(x <= grid[-1], interp(np.minimum(x, grid[-1])), 0.0)  # (T, N)
        per_tier[k] = (np.clip(cov, 0.0, 1.0) * p[None]).sum(1)
    mean_loads = np.array([float((np.arange(1, p.size + 1) * p).sum()) for p in probs])
    return CoverageResult(rth, per_tier.sum(0), per_tier, res.association, res.error_estimate, net.names, mean_loads)


def rate_at_coverage(net: NetLike, target: float, user_density_per_km2: float | None = None,
                     max_sinr_db: float = 80.0, n_grid: int = 24, passes: int = 3, **kw: Any) -> float:
    """Rate (bit/s) that a fraction ``target`` of the users achieves, P[R > rate] = target (the
    "x-th percentile rate" of Park et al. §V); 0 when fewer than ``target`` users are covered at any
    rate (e.g. nothing visible). Bracketing on log-spaced grids, then log-linear interpolation."""
    net = _as_network(net)
    if not (0 < target < 1):
        raise ValueError(f"target = {target} must be a coverage fraction in (0, 1)")
    loads = np.ones(len(net.tiers)) if user_density_per_km2 is None else load_factors(net, user_density_per_km2)
    w = net.bandwidth_hz / loads.min()
    lo, hi = w * 1e-7, w * max_sinr_db / (10 * math.log10(2))
    for i_pass in range(passes):
        grid = np.geomspace(lo, hi, n_grid)
        cov = rate_coverage(net, grid, user_density_per_km2, **kw).total
        if i_pass == 0 and cov[0] < target:
            return 0.0
        if cov[-1] >= target:
            return float(grid[-1])
        i = int(np.flatnonzero(cov >= target)[-1])
        lo, hi, c0, c1 = grid[i], grid[i + 1], cov[i], cov[i + 1]
    frac = (c0 - target) / (c0 - c1) if c0 > c1 else 0.0
    return float(math.exp(math.log(lo) + frac * (math.log(hi) - math.log(lo))))


# ================================================================== Monte Carlo
@dataclass(frozen=True)
class Drops:
    """Per-drop Monte Carlo outcome (typical user per drop)."""

    serving: np.ndarray  # (D,) tier index, -1 if nothing visible
    sinr: np.ndarray  # (D,) linear SINR of the serving link (0 if unserved)
    nearest_m: np.ndarray  # (K, D) nearest visible distance per tier (inf if none)
    n_visible: np.ndarray  # (K, D) visible points per tier
    tier_names: tuple[str, ...]

    def sinr_coverage(self, sinr_threshold_db: Any) -> np.ndarray:
        thr = 10 ** (np.atleast_1d(np.asarray(sinr_threshold_db, float)) / 10)
        return (self.sinr[None, :] > thr[:, None]).mean(1)

    def coverage_given_tau(self, tau: np.ndarray) -> np.ndarray:
        """(K, T) joint coverage P[k* = k, SINR > tau[k]]."""
        tau = np.asarray(tau, float)
        out = np.zeros(tau.shape)
        for k in range(tau.shape[0]):
            s = np.sort(self.sinr[self.serving == k])
            out[k] = (s.size - np.searchsorted(s, tau[k], side="right")) / self.serving.size
        return out

    def association(self) -> np.ndarray:
        return np.array([(self.serving == k).mean() for k in range(len(self.tier_names))])


def simulate(net: NetLike, n_drops: int, seed: int | np.random.Generator = 0, *,
             max_points_per_chunk: int = 2_000_000) -> Drops:
    """Monte Carlo drops of the exact model (same seed => same output).

    Per tier and drop: Poisson(lambda |cap|) points uniform on the base-sphere cap
    {1 - cos(theta) <= u_max = (R0 + b - R_E)/(R0 + b)} (the only points that can be visible;
    thinning of the full PPP), heights U[a, b], visible iff (R0 + h) cos(theta) >= R_E, distance
    d^2 = (R0 + h - R_E)^2 + 2 R_E (R0 + h) (1 - cos(theta)). Nearest visible point per tier,
    biased max-power association, serving fading drawn from the tier's serving fading, every other
    visible point interferes with G_I and its own fading (kept with probability active_fraction).
    """
    net = _as_network(net)
    if n_drops < 1:
        raise ValueError(f"n_drops = {n_drops} must be >= 1")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    caps = []
    for t in net.tiers:
        rho_b = t.base_radius_m + t.height_max_m
        u_max = (rho_b - t.earth_radius_m) / rho_b
        caps.append((u_max, t.lam_m2 * 2 * math.pi * t.base_radius_m**2 * u_max))
    per_drop = max(1.0, sum(c[1] for c in caps))
    chunk = int(max(1, min(n_drops, max_points_per_chunk // per_drop)))
    parts = [_simulate_chunk(net, caps, min(chunk, n_drops - i), rng) for i in range(0, n_drops, chunk)]
    return Drops(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]),
                 np.concatenate([p[2] for p in parts], axis=1), np.concatenate([p[3] for p in parts], axis=1),
                 net.names)


def _simulate_chunk(net: Network, caps: list[tuple[float, float]], nd: int, rng: np.random.Generator,
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n_t = len(net.tiers)
    nearest = np.full((n_t, nd), np.inf)
    nvis = np.zeros((n_t, nd), np.int64)
    pts = []
    for k, (t, (u_max, mean_cap)) in enumerate(zip(net.tiers, caps)):
        counts = rng.poisson(mean_cap, nd) if mean_cap > 0 else np.zeros(nd, np.int64)
        tot = int(counts.sum())
        drop = np.repeat(np.arange(nd), counts)
        u = rng.uniform(0.0, u_max, tot)
        h = rng.uniform(t.height_min_m, t.height_max_m, tot)
        rho = t.base_radius_m + h
        e = rho - t.earth_radius_m
        vis = u * rho <= e
        drop, u, rho, e = drop[vis], u[vis], rho[vis], e[vis]
        d = np.sqrt(e**2 + 2 * t.earth_radius_m * rho * u)
        power = t.rx_interf * d ** -t.pl_exponent * t.fading.sample(rng, d.size)
        if t.active_fraction < 1:
            power = power * (rng.random(d.size) < t.active_fraction)
        np.minimum.at(nearest[k], drop, d)
        nvis[k] = np.bincount(drop, minlength=nd)
        pts.append((drop, d, power))
    metric = np.full((n_t, nd), -np.inf)
    for k, t in enumerate(net.tiers):
        ok = np.isfinite(nearest[k])
        metric[k, ok] = t.log_ref - t.pl_exponent * np.log(nearest[k, ok])
    serving = np.where(np.isfinite(metric.max(0)), metric.argmax(0), -1)
    interf = np.zeros(nd)
    desired = np.zeros(nd)
    for k, t in enumerate(net.tiers):
        drop, d, power = pts[k]
        own = (serving[drop] == k) & (d == nearest[k][drop])
        interf += np.bincount(drop, weights=np.where(own, 0.0, power), minlength=nd)
        x0 = t.serving.sample(rng, nd)
        sel = serving == k
        desired[sel] = t.rx_serving * nearest[k, sel] ** -t.pl_exponent * x0[sel]
    sinr = np.where(serving >= 0, desired / (interf + net.noise_w), 0.0)
    return serving, sinr, nearest, nvis


def mc_rate_coverage(net: NetLike, drops: Drops, rate_threshold_bps: Any,
                     user_density_per_km2: float | None = None) -> np.ndarray:
    """Monte Carlo P[R > R_th]; with a user density the loads (54) use the drops' own association frequencies (the
    mean-load formula itself, so this checks the per-tier thresholds, not the load model:
    :func:`pipeline.solvers.load_simulation.simulate_users` counts the users instead)."""
    net = _as_network(net)
    rth = np.atleast_1d(np.asarray(rate_threshold_bps, float))
    loads = np.ones(len(net.tiers)) if user_density_per_km2 is None else _loads_from_assoc(
        net, drops.association(), user_density_per_km2)
    with np.errstate(over="ignore"):
        tau = np.expm1(np.log(2) * rth[None, :] * loads[:, None] / net.bandwidth_hz)
    return drops.coverage_given_tau(tau).sum(0)


# ================================================================== figure data (Park et al. Figs. 3-5)
def fig3_data(params: StinParams | None = None, rate_threshold_bps: Any = None,
              sat_densities_per_km2: Sequence[float] = (1e-7, 5e-7, 2e-6), n_drops: int = 100_000,
              seed: int = 0) -> dict[str, Any]:
    """Fig. 3: Theorem 1 vs simulation with Rayleigh fading everywhere (Park et al. §IV), one curve
    per satellite density (the caption's values are [MISSING]; these are placeholders)."""
    base = (params or StinParams()).with_shadowing("RAYLEIGH")
    base = replace(base, nakagami_m_tbs=1.0)
    rth = np.geomspace(1e5, 5e8, 50) if rate_threshold_bps is None else np.asarray(rate_threshold_bps, float)
    out: dict[str, Any] = {"rate_bps": rth, "sat_density_per_km2": list(sat_densities_per_km2),
                           "analytic": [], "monte_carlo": [], "max_abs_diff": []}
    for i, lam in enumerate(sat_densities_per_km2):
        p = replace(base, sat_density_per_km2=float(lam))
        an = rate_coverage(p, rth).total
        mc = mc_rate_coverage(p, simulate(p, n_drops, seed + i), rth)
        out["analytic"].append(an)
        out["monte_carlo"].append(mc)
        out["max_abs_diff"].append(float(np.max(np.abs(an - mc))))
    return out


def fig4_data(params: StinParams | None = None, sat_densities_per_km2: Sequence[float] = (0.0, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4),
              presets: Sequence[str] = ("FHS", "AS"), tbs_density_per_km2: float = 1e-4,
              rate_threshold_bps: Any = None, median_target: float = 0.5) -> dict[str, Any]:
    """Fig. 4: coverage extension in a rural area (Park et al. §V-A): rate coverage curves and the
    median rate versus satellite density for each shadowing preset. lambda_S = 0 is TN only.
    The rural TBS density and the densities swept are [PLACEHOLDER]s (Fig. 4 values [MISSING])."""
    base = replace(params or StinParams(), tbs_density_per_km2=tbs_density_per_km2)
    rth = np.geomspace(1e4, 3e8, 50) if rate_threshold_bps is None else np.asarray(rate_threshold_bps, float)
    out: dict[str, Any] = {"rate_bps": rth, "sat_density_per_km2": list(sat_densities_per_km2),
                           "tbs_density_per_km2": tbs_density_per_km2, "coverage": {}, "median_rate_bps": {}}
    for name in presets:
        p0 = base.with_shadowing(name)
        curves, medians = [], []
        for lam in sat_densities_per_km2:
            p = replace(p0, sat_density_per_km2=float(lam))
            curves.append(rate_coverage(p, rth).total)
            medians.append(rate_at_coverage(p, median_target))
        out["coverage"][name] = np.array(curves)
        out["median_rate_bps"][name] = np.array(medians)
    return out


def fig5_data(params: StinParams | None = None, sat_bias_db: Sequence[float] = tuple(range(0, 61, 5)),
              combos: Sequence[tuple[float, float]] = ((0.1, 60.0), (0.1, 80.0), (1.0, 80.0)),
              presets: Sequence[str] = ("AS", "FHS"), tbs_density_per_km2: float = 1.0,
              user_density_per_km2: float = 100.0, achieved_fraction: float = 0.95) -> dict[str, Any]:
    """Fig. 5: offloading in a dense urban area (Park et al. §V-B): the rate achieved by
    ``achieved_fraction`` of the users (load model (53)-(55)) versus the satellite bias B_S, for
    (lambda_S, G_S0 dBi) combinations, and the no-satellite baseline. The percentile, densities,
    user density and gains of the paper are [MISSING]; these defaults are placeholders chosen so that
    the offloading gain the text describes appears (it needs lambda_S ~ lambda_T, a large B_S and a
    high G_S0 in this pure d^-alpha model)."""
    base = replace(params or StinParams(), tbs_density_per_km2=tbs_density_per_km2)
    out: dict[str, Any] = {"sat_bias_db": list(sat_bias_db), "combos": list(combos), "achieved_fraction": achieved_fraction,
                           "user_density_per_km2": user_density_per_km2, "rate_bps": {}, "no_satellite_bps": {}}
    for name in presets:
        p0 = base.with_shadowing(name)
        out["no_satellite_bps"][name] = rate_at_coverage(replace(p0, sat_density_per_km2=0.0), achieved_fraction,
                                                         user_density_per_km2)
        rows = []
        for lam, gain in combos:
            rows.append([rate_at_coverage(replace(p0, sat_density_per_km2=lam, sat_gain_serving_dbi=gain,
                                                  sat_bias_db=float(bias)), achieved_fraction, user_density_per_km2)
                         for bias in sat_bias_db])
        out["rate_bps"][name] = np.array(rows)
    return out
