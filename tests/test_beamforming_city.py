"""Wang & Wang's beamforming problem on ray-traced channels: the adapter against closed forms (Friis, the
Bessel beam, the array response of one path) on a small synthetic channels/radio-map pair."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import xarray as xr

from pipeline.io.channels import path_coefficients
from pipeline.io.pathstore import ragged_dataset
from pipeline.errors import StinError
from pipeline.radio.antennas import bessel_3db_beamwidth_deg, bessel_gain_db
from pipeline.radio.cinr import LinkParams, satellite_budget_db
from pipeline.radio.link import free_space_path_gain
from pipeline.radio.tracing import BsConfig
from pipeline.radio.receiver import ReceiverModel
from pipeline.solvers.beamforming import (
    SolverOptions, bs_sensing_limit_w, evaluate, is_feasible, sensing_report, solve_pa1)
from pipeline.solvers.beamforming.city import (
    CitySetting, admit_users, city_problem, panel_steering, subset_users)

FREQ = 3.5e9
LINK = LinkParams(bs_tx_power_w=40.0, sat_tx_power_w=50.0, sat_max_gain_dbi=30.0, sat_aperture_m=2.0,
                  sat_beam_target="center", bandwidth_hz=20e6, noise_w=4e-13,
                  receiver=ReceiverModel(rows=1, cols=1, element_gain_dbi=0.0),
                  scintillation=True, atmospheric=True, gain_floor=1e-25)
BS = BsConfig.from_params({"sector_bearings_deg": [0.0, 120.0, 240.0], "mechanical_downtilt_deg": 6.0,
                           "pattern": "f1336", "f1336_max_gain_dbi": 16.0, "f1336_phi_3db_deg": 65.0})
SITE = np.array([0.0, -200.0, 30.0])
SAT_DIR = np.array([0.0, -math.cos(math.radians(50)), math.sin(math.radians(50))])  # 50 deg elevation, south
SLANT_M = 750e3


def _dir_angles(v: np.ndarray) -> tuple[float, float]:
    v = v / np.linalg.norm(v)
    return math.acos(v[2]), math.atan2(v[1], v[0])


@pytest.fixture(scope="module")
def city():
    """Three UEs north of one BS site (sector s0 faces north), one LoS path each, one satellite."""
    rng = np.random.default_rng(0)
    ue_xy = np.array([[-60.0, 50.0], [0.0, 120.0], [80.0, 20.0]])
    n_ue, n_path = len(ue_xy), 2
    ue = np.c_[ue_xy, np.full(n_ue, 1.5)]
    tx = ["s00-s0", "s00-s1", "s00-s2", "sat0"]
    a = np.zeros((1, n_ue, 4, 1, 1, n_path), complex)
    theta = np.zeros((1, n_ue, 4, n_path))
    phi = np.zeros((1, n_ue, 4, n_path))
    center = np.zeros(3)
    sat = center + SLANT_M * SAT_DIR
    bore = -SAT_DIR
    sat_gain_db = np.zeros((1, n_ue, 1))
    for k in range(n_ue):
        th, ph = _dir_angles(ue[k] - SITE)
        theta[0, k, :3, 0], phi[0, k, :3, 0] = th, ph
        a[0, k, :3, 0, 0, 0] = 1e-5 * np.exp(2j * np.pi * rng.random(3))  # LoS path of each sector
        to_ue = (ue[k] - sat) / np.linalg.norm(ue[k] - sat)
        g = satellite_budget_db(np.arccos(np.clip(to_ue @ bore, -1, 1)), 50.0, LINK, FREQ)
        sat_gain_db[0, k, 0] = g
        a[0, k, 3, 0, 0, 0] = math.sqrt(free_space_path_gain(np.linalg.norm(ue[k] - sat), FREQ)) * 10 ** (g / 20)
    gain = (np.abs(a) ** 2).sum(axis=(3, 4, 5))
    ch = xr.Dataset(
        {"a_real": (("time", "ue", "tx", "rx_ant", "tx_ant", "path"), a.real),
         "a_imag": (("time", "ue", "tx", "rx_ant", "tx_ant", "path"), a.imag),
         "theta_t_rad": (("time", "ue", "tx", "path"), theta), "phi_t_rad": (("time", "ue", "tx", "path"), phi),
         "gain_db": (("time", "ue", "tx"), 10 * np.log10(np.maximum(gain, 1e-25))),
         "sat_index": (("time", "rank"), np.array([[7]])), "sat_slant_range_m": (("time", "rank"), [[SLANT_M]]),
         "sat_elevation_deg": (("time", "rank"), [[50.0]]),
         "sat_direction_enu": (("time", "rank", "enu"), SAT_DIR[None, None]),
         "sat_antenna_gain_db": (("time", "ue", "rank"), sat_gain_db),
         "ue_x_m": (("time", "ue"), ue[None, :, 0]), "ue_y_m": (("time", "ue"), ue[None, :, 1]),
         "ue_z_m": (("time", "ue"), ue[None, :, 2])},
        coords={"time": [0], "ue": ["ue00", "ue01", "ue02"], "tx": tx, "tx_kind": (("tx",), ["bs"] * 3 + ["sat"])},
        attrs={"freq_hz": FREQ, "bs_tx_power_w": 40.0, "sat_tx_power_w": 50.0, "noise_power_w": 4e-13,
               "gain_floor_db": -250.0})
    xs = np.linspace(-300, 300, 61)
    rm = xr.Dataset({"path_gain_bs": (("bs", "y", "x"), np.full((3, 61, 61), 1e-9)),
                     "bs_bearing_deg": (("bs",), [0.0, 120.0, 240.0]),
                     "bs_x_m": (("bs",), [SITE[0]] * 3), "bs_y_m": (("bs",), [SITE[1]] * 3),
                     "bs_z_m": (("bs",), [SITE[2]] * 3)},
                    coords={"bs": tx[:3], "x": xs, "y": xs})
    return ragged_dataset(ch), rm, ue


def test_panel_steering_phases():
    """Boresight: all columns in phase; 30 deg to the right: pi sin(30) per column; up: pi per row."""
    s = panel_steering(np.array([0.0, 1.0, 0.0]), 0.0, 2, 3)
    np.testing.assert_allclose(s, 1.0)
    right = np.array([math.sin(math.radians(30)), math.cos(math.radians(30)), 0.0])
    s = panel_steering(right, 0.0, 1, 3)
    np.testing.assert_allclose(np.angle(s[1] / s[0]), np.pi * 0.5, atol=1e-12)
    s = panel_steering(np.array([0.0, 0.0, 1.0]), 0.0, 2, 1)
    np.testing.assert_allclose(np.angle(s[1] / s[0]), np.pi, atol=1e-12)


def test_city_problem_channels_against_closed_forms(city):
    ch, rm, ue = city
    p = city_problem(ch, rm, LINK, BS, np.zeros(3), CitySetting(es_height_m=10.0, sensing_eirp_dbw=0.0))
    assert p.meta["sector"] == "s00-s0"  # the sector facing the UEs
    assert p.n_bs == 9 and p.n_sat == 7 and p.n_users == 3
    a_bs = path_coefficients(ch, 0)["a"][:, 0, 0, 0, 0]
    order = [int(u[2:]) for u in p.meta["users"]]
    # one path: the virtual array keeps the traced panel's gain (MRT gain = |a|^2), phases = steering
    np.testing.assert_allclose((np.abs(p.h_ue) ** 2).sum(1), np.abs(a_bs[order]) ** 2, rtol=1e-6)  # complex64 paths
    for row, k in zip(p.h_ue, order):
        st = panel_steering((ue[k] - SITE) / np.linalg.norm(ue[k] - SITE), 0.0, 3, 3)
        assert abs(np.vdot(st, row)) / (np.linalg.norm(st) * np.linalg.norm(row)) == pytest.approx(1.0, abs=1e-9)
    # satellite: beam 0 aims at the ES above the beam target, so it reproduces the traced beam
    a_sat = path_coefficients(ch, 0)["a"][:, 3, 0, 0, 0]
    np.testing.assert_allclose(np.abs(p.g_ue[:, 0]) ** 2, np.abs(a_sat[order]) ** 2, rtol=1e-3)
    # an outer beam sits sqrt(3)/2 theta_3dB away: the Bessel gain there, relative to the peak
    spacing = math.radians(math.sqrt(3) / 2 * bessel_3db_beamwidth_deg(2.0, FREQ))
    rel_db = float(bessel_gain_db(spacing, aperture_diameter_m=2.0, freq_hz=FREQ, g_max_dbi=30.0)) - 30.0
    got_db = 10 * np.log10(np.abs(p.g_ue[:, 1:]) ** 2 / np.abs(p.g_ue[:, :1]) ** 2)
    np.testing.assert_allclose(got_db, rel_db, atol=0.15)  # UEs ~0.01 deg off the ES: +-0.08 dB on the slope
    # Earth station: Friis with the ES dish, beam-0 peak gain and the TR 38.811 losses
    es = np.array([0.0, 0.0, 10.0])
    d = np.linalg.norm(es - SLANT_M * SAT_DIR)
    budget = float(satellite_budget_db(0.0, 50.0, LINK, FREQ))
    want = free_space_path_gain(d, FREQ) * 10 ** ((budget + 37.7) / 10)
    assert abs(p.g_es[0]) ** 2 == pytest.approx(want, rel=1e-6)
    # BS -> ES: the radio-map cell's gain without the car's receive pattern (toward the BS), times the ES
    # side lobe, split over the array
    to_es = (es - SITE) / np.linalg.norm(es - SITE)
    car_rx = float(LINK.receiver.ray_gain(-to_es))
    assert (np.abs(p.h_es) ** 2).sum() == pytest.approx(1e-9 / car_rx * 10 ** (-10 / 10), rel=1e-9)
    # powers and noise come from channels.nc
    assert p.p_bs_w == 40.0 and p.p_sat_w == 50.0 and np.all(p.noise_ue_w == 4e-13)


def test_city_problem_is_solvable_and_evaluated(city):
    ch, rm, _ = city
    p = city_problem(ch, rm, LINK, BS, np.zeros(3), CitySetting(sensing_eirp_dbw=10.0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p, admitted, rejected = admit_users(p, is_feasible)
        d = solve_pa1(p, SolverOptions.quick())
    assert admitted and d.report.feasible, d.report.violations
    ev = evaluate(p, d.beams)
    assert ev.sum_rate == pytest.approx(d.report.sum_rate) and ev.sum_rate <= ev.backhaul_rate + 1e-4
    assert np.all(ev.beampattern_w >= 10.0 * (1 - 1e-5))


def test_admission_drops_users_that_make_the_qos_infeasible(city):
    ch, rm, _ = city
    p = city_problem(ch, rm, LINK, BS, np.zeros(3), CitySetting(sensing_eirp_dbw=0.0))
    clone = subset_users(p, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0])  # ten copies of one user on a 9-element panel
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q, admitted, rejected = admit_users(clone, is_feasible)
    assert 1 <= len(admitted) < 10 and rejected and q.n_users == len(admitted)


def test_bad_sector_and_slot_are_clear_errors(city):
    ch, rm, _ = city
    with pytest.raises(StinError, match="sector"):
        city_problem(ch, rm, LINK, BS, np.zeros(3), sector="nope")
    with pytest.raises(StinError, match="time_index"):
        city_problem(ch, rm, LINK, BS, np.zeros(3), CitySetting(time_index=5))
    tr = BsConfig.from_params({"sector_bearings_deg": [0.0], "mechanical_downtilt_deg": 6.0, "pattern": "tr38901",
                               "array_rows": 2, "array_cols": 2})
    with pytest.raises(StinError, match="f1336"):
        city_problem(ch, rm, LINK, tr, np.zeros(3))


@pytest.mark.parametrize("stage_name, edit, expect", [
    ("beamforming_sweeps", lambda b: b["paper"].update(csi_errors="lots"), "csi_errors"),
    ("beamforming_sweeps", lambda b: b["sweeps"].update(schemes=["pa9"]), "pa9"),
    ("beamforming_sweeps", lambda b: b["sweeps"].update(bs_antennas=[[3]]), "bs_antennas"),
    ("beamforming", lambda b: b["city"]["sweeps"].update(p_sat_offsets_db=[]), "p_sat_offsets_db"),
    ("beamforming", lambda b: b["city"].update(target_offsets_deg=["left"]), "target_offsets_deg"),
    ("beamforming", lambda b: b["isac"]["detection"].update(target_model="magic"), "target_model"),
    ("beamforming", lambda b: b["isac"]["detection"]["city"].update(receiver="es"), "receiver"),
    ("beamforming", lambda b: b["city"].pop("sensing_re_bs_limit_db"), "sensing_re_bs_limit_db"),
])
def test_bad_beamforming_params_are_one_error_line(project, capsys, stage_name, edit, expect):
    """Checked before any file is read or solve started: one line, exit code 2, nothing written."""
    import importlib

    import yaml

    from conftest import outputs_under
    from pipeline.stages._common import run_stage

    params = yaml.safe_load((project / "params.yaml").read_text())
    edit(params["beamforming"])
    (project / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    stage = importlib.import_module(f"pipeline.stages.{stage_name}")
    assert run_stage(stage_name, stage.build) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "fix:" in err and expect in err
    assert outputs_under(project) == []


def test_city_threshold_at_the_bs_sensing_limit_binds(city):
    """Gamma at the BS-alone sensing limit (params default): the sensing-free design radiates less toward the
    targets, so (17d) cuts it off; PA1 meets Gamma with equality, a positive shadow price and a rate cost."""
    ch, rm, _ = city
    p = city_problem(ch, rm, LINK, BS, np.zeros(3), CitySetting(sensing_re_bs_limit_db=0.0))
    limit = bs_sensing_limit_w(p)
    assert p.meta["bs_sensing_limit_dbw"] == pytest.approx(10 * math.log10(limit))
    np.testing.assert_allclose(p.gamma_w, limit)
    assert city_problem(ch, rm, LINK, BS, np.zeros(3), CitySetting(sensing_re_bs_limit_db=-3.0)).gamma_w[0] == \
        pytest.approx(limit / 10**0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        free = solve_pa1(p.replace(gamma_w=np.zeros(p.n_targets)), SolverOptions.quick())
        d = solve_pa1(p, SolverOptions.quick())
    assert np.all(free.report.beampattern_w < limit)
    rep = sensing_report(p, d)
    assert d.report.feasible and rep["binding"] and min(rep["dual_bps_hz_per_db"]) > 1e-3
    assert max(abs(x) for x in rep["slack_db"]) < 0.01
    assert d.sum_rate < free.sum_rate - 0.1
