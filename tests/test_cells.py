"""Cells on the sphere and the load conditioned on the visible-station count (pipeline.solvers.stochastic_geometry.cells,
coverage_given_visible, load_model="visible_count"): closed forms, literature constants, identities between different
integrals, and the independent user-level Monte Carlo of pipeline.solvers.load_simulation."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from pipeline.solvers.stochastic_geometry import (
    StinParams, association_probabilities, coverage_given_tau, coverage_given_visible, load_given_visible,
    rate_coverage, sinr_coverage)
from pipeline.solvers.stochastic_geometry.cells import (
    cap_intersection_area, tagged_cell_moments_given_visible, triple_cap_intersection_area, typical_cell_area_moments)
from pipeline.solvers.stochastic_geometry.coverage import _serving_distance_weights
from pipeline.solvers.stochastic_geometry.model import _as_network

DENSE_TN = StinParams(sat_density_per_km2=0.0, tbs_density_per_km2=0.05)


def _unit(polar: float, azimuth: float) -> np.ndarray:
    return np.array([np.sin(polar) * np.cos(azimuth), np.sin(polar) * np.sin(azimuth), np.cos(polar)])


def _points_in_cap(rng: np.random.Generator, half_angle: float, n: int) -> np.ndarray:
    cz = rng.uniform(np.cos(half_angle), 1.0, n)
    phi = rng.uniform(0, 2 * np.pi, n)
    s = np.sqrt(1 - cz**2)
    return np.stack([s * np.cos(phi), s * np.sin(phi), cz], axis=1)


def _angle(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * np.arcsin(np.linalg.norm(a - b) / 2))


# ------------------------------------------------------------------ caps
@pytest.mark.parametrize("scale", [1.0, 0.2, 2e-3])
def test_two_and_three_cap_intersections_against_points_on_the_sphere(scale):
    """Solid angles of cap intersections against uniform points in the first cap (4M points: s.e. <= 0.1 % of the
    cap); small caps (2e-3 rad, a BS cell) keep their precision."""
    rng = np.random.default_rng(3)
    for _ in range(3):
        t = rng.uniform(0.5, 1.0, 3) * scale * 0.5
        c = [np.array([0.0, 0.0, 1.0]), _unit(rng.uniform(0.1, 0.7) * scale, 0.0),
             _unit(rng.uniform(0.1, 0.7) * scale, rng.uniform(0, np.pi))]
        p = _points_in_cap(rng, t[0], 4_000_000)
        cap0 = 2 * np.pi * (1 - np.cos(t[0]))
        in2, in3 = p @ c[1] >= np.cos(t[1]), p @ c[2] >= np.cos(t[2])
        for inside, area in ((in2, cap_intersection_area(t[0], t[1], _angle(c[0], c[1]))),
                             (in2 & in3, triple_cap_intersection_area(t[0], t[1], t[2], _angle(c[0], c[1]),
                                                                      _angle(c[0], c[2]), _angle(c[1], c[2]), 64))):
            frac = inside.mean()
            assert float(area) == pytest.approx(frac * cap0, abs=4 * cap0 * np.sqrt(frac * (1 - frac) / p.shape[0]) + 1e-3 * cap0)


def test_cap_intersection_limits_and_the_planar_lens():
    t = np.array([0.1, 0.3])
    cap = 2 * np.pi * (1 - np.cos(t))
    assert cap_intersection_area(t[0], t[1], 0.5) == 0.0  # apart
    assert cap_intersection_area(t[0], t[1], 0.15) == pytest.approx(cap[0], rel=1e-12)  # contained
    # tiny caps: the planar lens r1^2 acos(.) + r2^2 acos(.) - sqrt(...) / 2
    r1, r2, d = 1e-4, 0.8e-4, 1.1e-4
    lens = (r1**2 * np.arccos((d**2 + r1**2 - r2**2) / (2 * d * r1)) + r2**2 * np.arccos((d**2 + r2**2 - r1**2) / (2 * d * r2))
            - 0.5 * np.sqrt((-d + r1 + r2) * (d + r1 - r2) * (d - r1 + r2) * (d + r1 + r2)))
    assert float(cap_intersection_area(r1, r2, d)) == pytest.approx(lens, rel=1e-5)
    # a third cap holding the other two changes nothing; an empty third cap leaves nothing
    assert float(triple_cap_intersection_area(0.2, 0.25, np.pi, 0.3, 1.0, 1.1, 64)) == pytest.approx(
        float(cap_intersection_area(0.2, 0.25, 0.3)), rel=2e-3)
    assert float(triple_cap_intersection_area(0.2, 0.25, 0.05, 0.3, 1.0, 1.1)) == 0.0


# ------------------------------------------------------------------ typical cell
def test_typical_cell_mean_is_the_ground_area_per_station_and_its_second_moment_gilberts():
    """E0[A] (an integral over the cell) equals P[k* = k] (R_E/R0)^2 / lambda (Lemma 3 association); in the plane
    (dense ground BSs) lambda^2 E0[A^2] = 1.280 (Gilbert 1962), the moment behind Singh et al.'s Gamma(3.5) law."""
    net = _as_network(StinParams())
    sat = net.tiers[0]
    m1, _ = typical_cell_area_moments(net, 0)
    per_station = association_probabilities(net)[0] * (sat.earth_radius_m / sat.base_radius_m) ** 2 / sat.lam_m2
    assert m1 == pytest.approx(per_station, rel=1e-4)
    tn = _as_network(DENSE_TN)
    m1, m2 = typical_cell_area_moments(tn, 1)
    lam = tn.tiers[1].lam_m2
    assert m1 * lam == pytest.approx(association_probabilities(tn)[1], rel=1e-4)  # visible share of the plane
    assert m2 * lam**2 == pytest.approx(1.280, rel=0.01)


# ------------------------------------------------------------------ SINR given the visible count
@pytest.mark.parametrize("params", [StinParams(), DENSE_TN], ids=["stin", "dense_tn"])
def test_coverage_given_visible_sums_to_theorem_1(params):
    """Summed over the visible count n, the binomial-process decomposition is Lemma 3's serving-distance density and
    Theorem 1's joint coverage (two different series: Poisson interferers vs n - 1 i.i.d. ones)."""
    net = _as_network(params)
    tau = 10 ** (np.array([-5.0, 0.0, 10.0, 25.0]) / 10)
    theorem = coverage_given_tau(net, tau, nodes=(24, 18), max_refine=0).per_tier
    for k, tier in enumerate(net.tiers):
        if tier.density_per_km2 == 0:
            continue
        n = np.arange(1, int(tier.mean_visible() + 12 * np.sqrt(tier.mean_visible())) + 12)
        r, w, cov = coverage_given_visible(net, k, tau, n)
        _, dens = _serving_distance_weights(net, k, 24)
        np.testing.assert_allclose(w.sum(0), dens, rtol=1e-8, atol=1e-14)
        np.testing.assert_allclose(np.einsum("nr,ntr->t", w, cov), theorem[k], atol=2e-4)
    with pytest.raises(ValueError, match="increasing"):
        coverage_given_visible(net, 1, tau, [3, 2])


# ------------------------------------------------------------------ load given the visible count
def test_load_given_visible_averages_to_the_size_biased_typical_cell():
    """Sum_n P[n] E[N - 1 | n] (the typical user's cell, conditioned and averaged) equals lambda_U E0[A^2] / E0[A]
    (the Palm typical cell, size-biased): two different integrals of one quantity."""
    for params, k, lam_u in ((StinParams(), 0, 1e-5), (DENSE_TN, 1, 0.2)):
        load = load_given_visible(params, lam_u, k, samples=1500)
        m1, m2 = typical_cell_area_moments(params, k)
        pn = load.probability
        assert (pn * load.mean_others).sum() / pn.sum() == pytest.approx(lam_u / 1e6 * m2 / m1, rel=0.005)
        assert np.all(np.diff(load.mean_others[pn > 1e-3 * pn.max()]) < 0)  # more stations in view: smaller cells


def test_load_given_visible_matches_users_counted_in_their_cells():
    """Per visible count, the conditional mean and variance of the load against users dropped, associated and counted
    (30 snapshots of the whole sphere, ~150k users)."""
    from pipeline.solvers.load_simulation import simulate_users

    p = StinParams()
    drops = simulate_users(p, 1e-5, 30, 11)
    load = load_given_visible(p, 1e-5, 0, samples=1500)
    sat = drops.serving == 0
    for n, mean, var in zip(load.n_values, load.mean_others, load.var_others):
        users = drops.load[sat & (drops.visible_in_serving_tier == n)] - 1
        if users.size < 15_000:
            continue
        assert users.mean() == pytest.approx(mean, rel=0.04)
        assert users.var() == pytest.approx(var, rel=0.15)


def test_visible_count_rate_coverage_matches_the_independent_mc_where_singh_does_not():
    """Rate coverage with loads: the visible-count model within 0.015 of the user Monte Carlo on the satellite
    network (40 snapshots, ~200k users, s.e. <= 0.005), where Singh et al.'s independent load distribution is off by
    more than 0.02 (the SINR-load link: crowded skies mean small cells and strong interference)."""
    from pipeline.solvers.load_simulation import simulate_users

    p = StinParams()
    rth = np.geomspace(1e6, 2e7, 16)
    mc = simulate_users(p, 1e-5, 40, 12).rate_coverage(rth)
    vis = rate_coverage(p, rth, 1e-5, load_model="visible_count", samples=1500)
    singh = rate_coverage(p, rth, 1e-5, load_model="distribution")
    assert np.max(np.abs(vis.total - mc)) <= 0.015
    assert np.max(np.abs(singh.total - mc)) > 0.02
    assert vis.loads[0] == pytest.approx(1 + 1e-11 * np.divide(*typical_cell_area_moments(p, 0)[::-1]), rel=0.005)


def test_visible_count_model_is_seeded_and_reduces_to_sinr_coverage_without_users():
    p = replace(DENSE_TN, tbs_density_per_km2=0.02)
    rth = np.geomspace(1e5, 1e8, 6)
    a = rate_coverage(p, rth, 0.05, load_model="visible_count", samples=500, seed=4).total
    b = rate_coverage(p, rth, 0.05, load_model="visible_count", samples=500, seed=4).total
    np.testing.assert_array_equal(a, b)
    none = rate_coverage(p, rth, 0.0, load_model="visible_count", samples=500).total
    sinr = sinr_coverage(p, 10 * np.log10(np.expm1(np.log(2) * rth / p.bandwidth_hz))).total
    np.testing.assert_allclose(none, sinr, atol=2e-4)
    with pytest.raises(ValueError, match=">= 1"):
        tagged_cell_moments_given_visible(p, 1, [1e3], [0, 1])
