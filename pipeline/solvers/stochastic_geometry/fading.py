"""Small-scale fading laws (Nakagami-m, Shadowed-Rician) and the Shadowed-Rician presets (Park et al. Table II)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special, stats

from pipeline.solvers.stochastic_geometry.constants import SERIES_TAIL


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
