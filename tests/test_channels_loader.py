"""The channel loader and the channel assembly on a hand-made path set."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr

from pipeline.io import as_tensor, channel_vectors, link_gains, load_channels, path_coefficients
from pipeline.io.pathstore import write_path_dataset
from pipeline.radio.antennas import bessel_gain_db
from pipeline.radio.channels import assemble_channels, cinr_along_routes
from pipeline.radio.cinr import LinkParams, aperture_gain_dbi
from pipeline.radio.link import atmospheric_loss_db, scintillation_loss_db
from test_link import LINK, UE

UE1 = {**UE, "array_rows": 1, "array_cols": 1}  # one dual-polarised element: the rx_ant axis holds its 2 ports

C = 299_792_458.0


def _raypaths() -> xr.Dataset:
    """1 slot, 2 UEs, one BS sector and one satellite rank, 2 rx antennas, 3 path slots."""
    a = np.zeros((1, 2, 2, 2, 1, 3), np.complex64)
    a[0, 0, 0, :, 0, 0] = [1e-5, 1e-5j]
    a[0, 0, 0, :, 0, 1] = [2e-6, -2e-6]
    a[0, 1, 0, :, 0, 0] = [3e-6, 0]
    a[0, :, 1, :, 0, 0] = 1e-8  # satellite path (before antenna gains)
    tau = np.zeros((1, 2, 2, 3))
    tau[0, 0, 0, :2] = [400e-9, 650e-9]
    tau[0, 1, 0, 0] = 300e-9
    tau[0, :, 1, 0] = 882.3e3 / C
    valid = np.abs(a).sum(axis=(3, 4)) > 0
    return xr.Dataset(
        {"a_real": (("time", "ue", "tx", "rx_ant", "tx_ant", "path"), a.real),
         "a_imag": (("time", "ue", "tx", "rx_ant", "tx_ant", "path"), a.imag),
         "tau_s": (("time", "ue", "tx", "path"), tau),
         "path_valid": (("time", "ue", "tx", "path"), valid.astype(np.uint8)),
         "path_los": (("time", "ue", "tx", "path"), valid.astype(np.uint8)),
         "sat_index": (("time", "rank"), np.array([[7]])),
         "sat_elevation_deg": (("time", "rank"), np.array([[40.0]])),
         "sat_slant_range_m": (("time", "rank"), np.array([[882.3e3]])),
         "sat_direction_enu": (("time", "rank", "enu"), np.array([[[0.0, math.cos(math.radians(40)), math.sin(math.radians(40))]]])),
         "ue_x_m": (("time", "ue"), [[0.0, 50.0]]), "ue_y_m": (("time", "ue"), [[0.0, 0.0]]),
         "ue_z_m": (("time", "ue"), [[1.5, 1.5]]),
         "theta_r_rad": (("time", "ue", "tx", "path"), np.zeros((1, 2, 2, 3))),  # every ray from the zenith
         "phi_r_rad": (("time", "ue", "tx", "path"), np.zeros((1, 2, 2, 3))),
         "penetration_gain": (("time", "ue", "tx"), np.zeros((1, 2, 2))),
         "direct_arrival_enu": (("time", "ue", "tx", "enu"), np.broadcast_to([0.0, 0.0, 1.0], (1, 2, 2, 3))),
         "bs_tx_weight_real": (("tx_ant",), [1.0]), "bs_tx_weight_imag": (("tx_ant",), [0.0])},
        coords={"time": [np.datetime64("2026-01-01T12:00")], "ue": ["ue00", "ue01"], "tx": ["bs00-s0", "sat0"],
                "tx_kind": (("tx",), ["bs", "sat"]), "rank": [0]},
        attrs={"freq_hz": 3.5e9},
    )


@pytest.fixture()
def channels_file(tmp_path):
    link = LinkParams.from_params(LINK, UE1, 3.5e9)
    ds = assemble_channels(_raypaths(), link, np.zeros(3), np.zeros(3))
    path = tmp_path / "channels.nc"
    write_path_dataset(ds, path)
    return path, link


def test_gains_follow_the_paths_and_the_satellite_budget(channels_file):
    path, link = channels_file
    ds = load_channels(path)
    g = link_gains(ds, 0)
    assert g["bs"].shape == (2, 1) and g["sat"].shape == (2, 1)
    # one element at its boresight (6 dBi already in a): sum over paths and its two ports
    assert g["bs"][0, 0] == pytest.approx(2 * 1e-10 + 2 * 4e-12, rel=1e-5)
    assert g["bs"][1, 0] == pytest.approx(9e-12, rel=1e-5)
    sat = 882.3e3 * np.array([0.0, math.cos(math.radians(40)), math.sin(math.radians(40))])
    off = math.acos(np.dot(-sat / np.linalg.norm(sat), (np.array([0, 0, 1.5]) - sat) / np.linalg.norm([0, 0, 1.5] - sat)))
    budget_db = (bessel_gain_db(off, aperture_diameter_m=2.0, freq_hz=3.5e9, g_max_dbi=aperture_gain_dbi(2.0, 3.5e9))
                 - scintillation_loss_db(3.5e9) - atmospheric_loss_db(3.5e9, 40.0))
    assert 10 * math.log10(g["sat"][0, 0] / (2 * 1e-16)) == pytest.approx(float(budget_db), abs=1e-3)
    assert ds.attrs["noise_power_dbm"] == pytest.approx(-93.96, abs=0.01)
    assert ds["gain_db"].dims == ("time", "ue", "tx")


def test_channel_vectors_are_the_sum_of_delayed_paths(channels_file):
    path, _ = channels_file
    ds = load_channels(path)
    f = np.array([0.0, 1e6, 5e6])
    h = channel_vectors(ds, 0, f)
    assert h.shape == (2, 2, 2, 1, 3)
    dense = path_coefficients(ds, 0)
    a, tau = dense["a"], dense["tau_s"]
    assert a.shape == (2, 2, 2, 1, 2)  # padded to the slot's longest link (2 paths), not more
    manual = sum(a[0, 0, 1, 0, p] * np.exp(-2j * np.pi * f * tau[0, 0, p]) for p in range(a.shape[-1]))
    np.testing.assert_allclose(h[0, 0, 1, 0], manual, rtol=1e-6)
    # frequency flat for a single path: |H| constant
    np.testing.assert_allclose(np.abs(h[1, 0, 0, 0]), 3e-6, rtol=1e-5)


def test_tensors_for_frameworks(channels_file):
    path, _ = channels_file
    g = link_gains(load_channels(path), 0)["bs"]
    assert isinstance(as_tensor(g), np.ndarray)
    with pytest.raises(ValueError, match="unknown framework"):
        as_tensor(g, "jax-ish")
    torch = pytest.importorskip("torch")
    assert torch.allclose(as_tensor(g, "torch"), torch.from_numpy(g))


def test_cinr_along_routes_closed_form(channels_file):
    path, link = channels_file
    ds = load_channels(path).load()
    cinr_bs, cinr_leo = cinr_along_routes(ds, link)
    g = link_gains(ds, 0)
    expected = 10 * np.log10(link.bs_tx_power_w * g["bs"][:, 0] / (link.sat_tx_power_w * g["sat"][:, 0] + link.noise_w))
    np.testing.assert_allclose(cinr_bs[0], expected, atol=1e-3)
    expected_leo = 10 * np.log10(link.sat_tx_power_w * g["sat"][:, 0] / (link.bs_tx_power_w * g["bs"][:, 0] + link.noise_w))
    np.testing.assert_allclose(cinr_leo[0], expected_leo, atol=1e-3)


def test_through_wall_ray_and_the_fixed_array_enter_the_link_gain():
    """A 2 x 2 fixed array: each traced ray is weighed by |AF|^2 / N toward its arrival direction,
    and the through-wall direct ray by the full receive pattern."""
    from pipeline.radio.receiver import ReceiverModel

    rp = _raypaths()
    rp["penetration_gain"] = (("time", "ue", "tx"), np.array([[[1e-13, 0.0], [0.0, 0.0]]]))
    link = LinkParams.from_params(LINK, {**UE, "array_rows": 2, "array_cols": 2}, 3.5e9)
    ds = assemble_channels(rp, link, np.zeros(3), np.zeros(3))
    rx = ReceiverModel(rows=2, cols=2)
    zenith = np.array([0.0, 0.0, 1.0])
    af = 10 ** (rx.array_factor_db(zenith) / 10)  # 4 at the zenith
    expected = (2 * 1e-10 + 2 * 4e-12) / 4 * af + 1e-13 * rx.ray_gain(zenith)
    assert 10 ** (float(ds.gain_db[0, 0, 0]) / 10) == pytest.approx(expected, rel=1e-5)
    assert 10 ** (float(ds.gain_traced_db[0, 0, 0]) / 10) == pytest.approx((2 * 1e-10 + 2 * 4e-12) / 4 * af, rel=1e-5)
