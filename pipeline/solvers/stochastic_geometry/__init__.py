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
Poisson-Voronoi cell, Singh et al.), with load and SINR independent. ``load_model="visible_count"`` (ours [RECON],
docs/models/coverage.md) conditions both on the number n of visible stations of the serving tier: given n the SINR
has the binomial-process Laplace transform (:func:`coverage_given_visible`) and the load the first two moments of
the typical user's cell given n, computed on the sphere (:mod:`~pipeline.solvers.stochastic_geometry.cells`); a
crowded sky means both small cells and strong interference, the link the independent models miss. All three are
checked against users dropped, associated and counted (:mod:`pipeline.solvers.load_simulation`), which uses none.

Monte Carlo: :func:`simulate` drops exactly this model (PPP restricted to the cap that can be
visible, uniform heights, visibility, nearest-per-tier, biased association, fading of every
link, interference from every other visible point) with a seeded numpy Generator.
"""

from __future__ import annotations

from pipeline.solvers.stochastic_geometry.constants import (
    EARTH_RADIUS_M, M2_PER_KM2, VOID_CUT, SERIES_TAIL, HUGE_SINR)
from pipeline.solvers.stochastic_geometry.fading import (
    Nakagami, ShadowedRician, Fading, SR_PRESETS)
from pipeline.solvers.stochastic_geometry.quadrature import (
    piecewise_nodes, poisson_mixture_probs)
from pipeline.solvers.stochastic_geometry.model import (
    Tier, Network, StinParams, NetLike)
from pipeline.solvers.stochastic_geometry.model import _as_network as _as_network  # used by load_simulation
from pipeline.solvers.stochastic_geometry.coverage import (
    interference_laplace, CoverageResult, coverage_given_tau, association_probabilities, conditional_association,
    serving_distance_pdf, load_factors, sinr_coverage, coverage_given_visible)
from pipeline.solvers.stochastic_geometry.cells import (
    cap_intersection_area, triple_cap_intersection_area, typical_cell_area_moments, tagged_cell_moments_given_visible)
from pipeline.solvers.stochastic_geometry.rate import (
    LOAD_MODELS, CELL_AREA_SHAPE, VisibleCountLoad, load_distribution, load_given_visible, rate_coverage,
    rate_at_coverage)
from pipeline.solvers.stochastic_geometry.simulate import (
    Drops, simulate, mc_rate_coverage)
from pipeline.solvers.stochastic_geometry.figures import (
    fig3_data, fig4_data, fig5_data)

__all__ = [
    "EARTH_RADIUS_M", "M2_PER_KM2", "VOID_CUT", "SERIES_TAIL", "HUGE_SINR", "Nakagami", "ShadowedRician", "Fading",
    "SR_PRESETS", "piecewise_nodes", "poisson_mixture_probs", "Tier", "Network", "StinParams", "NetLike",
    "interference_laplace", "CoverageResult", "coverage_given_tau", "association_probabilities",
    "conditional_association", "serving_distance_pdf", "load_factors", "sinr_coverage", "LOAD_MODELS",
    "CELL_AREA_SHAPE", "load_distribution", "rate_coverage", "rate_at_coverage", "Drops", "simulate",
    "coverage_given_visible", "cap_intersection_area", "triple_cap_intersection_area", "typical_cell_area_moments",
    "tagged_cell_moments_given_visible", "VisibleCountLoad", "load_given_visible",
    "mc_rate_coverage", "fig3_data", "fig4_data", "fig5_data"]
