"""The DeepMIMO export (pipeline/io/deepmimo.py) read back by the real ``deepmimo`` package (v4)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from pipeline.errors import StinError
from pipeline.io import channel_vectors
from pipeline.io.deepmimo import export_deepmimo
from pipeline.io.pathstore import ragged_dataset, write_path_dataset

dm = pytest.importorskip("deepmimo")

T, U, R, N, P = 2, 3, 2, 2, 3  # slots, cars, rx ports, tx ports, path slots
TX = ["bs00-s0", "bs00-s1", "sat0"]
W = np.array([0.6, 0.8j])  # the BS panel's weights over its 2 ports
C = 299_792_458.0
SAT_DIR = np.array([0.0, 0.6, 0.8])
SAT_RANGE = 700e3
CENTER = np.array([5.0, -10.0, 0.0])
BS_XYZ = np.array([[100.0, 0.0, 25.0], [100.0, 0.0, 25.0]])
# (ue, tx) -> number of paths; (2, 1) is the link without paths
N_PATHS = np.array([[3, 1, 2], [2, 2, 1], [1, 0, 1]])


def _dense() -> xr.Dataset:
    """Hand-made paths: distinct gains, delays and angles; ue1-bs00-s0's line-of-sight path is the weaker."""
    rng = np.random.default_rng(7)
    valid = np.zeros((T, U, len(TX), P), bool)
    for t in range(T):
        for u in range(U):
            for j in range(len(TX)):
                valid[t, u, j, : N_PATHS[u, j]] = True
    a = (rng.normal(size=(T, U, len(TX), R, N, P)) + 1j * rng.normal(size=(T, U, len(TX), R, N, P))) * 1e-5
    a[:, :, 2, :, 1, :] = 0  # a satellite has one port (the project pads the others with 0)
    a[:, :, 2] *= 1e-3
    a *= valid[:, :, :, None, None, :]
    tau = np.sort(rng.uniform(100e-9, 900e-9, size=(T, U, len(TX), P)), axis=-1)
    tau[:, :, 2] += SAT_RANGE / C
    los = np.zeros((T, U, len(TX), P), np.uint8)
    los[:, :, :, 0] = valid[:, :, :, 0]
    los[:, 1, 0, 0] = 1
    a[:, 1, 0, :, :, 0] *= 0.05  # LoS weaker than the reflection behind it
    angles = {name: rng.uniform(lo, hi, size=(T, U, len(TX), P)).astype(np.float32)
              for name, lo, hi in (("theta_t_rad", 0.1, 3.0), ("phi_t_rad", -3.0, 3.0),
                                   ("theta_r_rad", 0.1, 3.0), ("phi_r_rad", -3.0, 3.0))}
    doppler = rng.uniform(-500, 500, size=(T, U, len(TX), P)).astype(np.float32)
    dims = ("time", "ue", "tx", "path")
    ue_x = np.array([[0.0, 50.0, -30.0], [1.0, 51.0, -29.0]])
    return xr.Dataset(
        {"a_real": (("time", "ue", "tx", "rx_ant", "tx_ant", "path"), a.real.astype(np.float32)),
         "a_imag": (("time", "ue", "tx", "rx_ant", "tx_ant", "path"), a.imag.astype(np.float32)),
         "tau_s": (dims, tau), "path_valid": (dims, valid.astype(np.uint8)), "path_los": (dims, los),
         "doppler_hz": (dims, doppler), **{k: (dims, v) for k, v in angles.items()},
         "sat_index": (("time", "rank"), np.array([[4], [5]], np.int32)),
         "sat_slant_range_m": (("time", "rank"), np.full((T, 1), SAT_RANGE)),
         "sat_direction_enu": (("time", "rank", "enu"), np.broadcast_to(SAT_DIR, (T, 1, 3)).copy()),
         "ue_x_m": (("time", "ue"), ue_x), "ue_y_m": (("time", "ue"), np.zeros((T, U))),
         "ue_z_m": (("time", "ue"), np.full((T, U), 1.5)),
         "bs_tx_weight_real": (("tx_ant",), W.real), "bs_tx_weight_imag": (("tx_ant",), W.imag)},
        coords={"time": np.array(["2026-01-01T12:00", "2026-01-01T12:00:10"], "datetime64[ns]"),
                "ue": ["ue00", "ue01", "ue02"], "tx": TX, "tx_kind": (("tx",), ["bs", "bs", "sat"]), "rank": [0],
                "rx_ant": np.arange(R), "tx_ant": np.arange(N)},
        attrs={"freq_hz": 3.5e9, "city": "testcity", "max_depth": 2, "diffraction": 0},
    )


def _radiomaps() -> xr.Dataset:
    return xr.Dataset({"bs_x_m": (("bs",), BS_XYZ[:, 0]), "bs_y_m": (("bs",), BS_XYZ[:, 1]),
                       "bs_z_m": (("bs",), BS_XYZ[:, 2])},
                      coords={"bs": TX[:2], "x": [CENTER[0] - 10, CENTER[0] + 10], "y": [CENTER[1] - 5, CENTER[1] + 5]})


def _expected(dense: xr.Dataset, t: int, u: int, j: int, antenna="sum") -> dict[str, np.ndarray]:
    """The link's paths as DeepMIMO should hold them, strongest first (computed here from the dense arrays)."""
    n = N_PATHS[u, j]
    a = (dense.a_real.values + 1j * dense.a_imag.values)[t, u, j][..., :n].astype(np.complex128)  # (R, N, n)
    if antenna == "sum":
        w = W if j < 2 else np.array([1.0, 0.0])
        coef = np.einsum("mnp,n->mp", a, w)
        power = 10 * np.log10((np.abs(coef) ** 2).sum(axis=0))
        phase = np.angle(coef[0], deg=True)
    else:
        coef = a[antenna[0], antenna[1]]
        power, phase = 20 * np.log10(np.abs(coef)), np.angle(coef, deg=True)
    order = np.argsort(-power, kind="stable")
    out = {"power": power, "phase": phase, "delay": dense.tau_s.values[t, u, j, :n],
           "aoa_az": np.degrees(dense.phi_r_rad.values[t, u, j, :n].astype(float)),
           "aoa_el": np.degrees(dense.theta_r_rad.values[t, u, j, :n].astype(float)),
           "aod_az": np.degrees(dense.phi_t_rad.values[t, u, j, :n].astype(float)),
           "aod_el": np.degrees(dense.theta_t_rad.values[t, u, j, :n].astype(float)),
           "los": dense.path_los.values[t, u, j, :n], "doppler": dense.doppler_hz.values[t, u, j, :n], "coef": coef if antenna != "sum" else None}
    return {k: (v[order] if v is not None else None) for k, v in out.items()}


@pytest.fixture()
def scenarios(tmp_path):
    """A DeepMIMO scenarios folder in tmp, set as deepmimo's (restored after the test)."""
    folder = tmp_path / "deepmimo_scenarios"
    old = dm.config.get("scenarios_folder")
    dm.config.set("scenarios_folder", str(folder))
    yield folder
    dm.config.set("scenarios_folder", old)


def _check_link(d, dense: xr.Dataset, t: int, u: int, j: int) -> None:
    exp = _expected(dense, t, u, j)
    n = N_PATHS[u, j]
    assert int(d.num_paths[u]) == n
    if n == 0:
        assert np.isnan(d.power[u]).all() and np.isnan(d.delay[u]).all() and d.los[u] == -1
        return
    np.testing.assert_allclose(d.power[u, :n], exp["power"], atol=1e-4)
    np.testing.assert_allclose(d.phase[u, :n], exp["phase"], atol=1e-3)
    np.testing.assert_allclose(d.delay[u, :n], exp["delay"], rtol=1e-12)
    for key in ("aoa_az", "aoa_el", "aod_az", "aod_el"):
        np.testing.assert_allclose(d[key][u, :n], exp[key], atol=1e-4)
    assert np.isnan(d.power[u, n:]).all()
    np.testing.assert_array_equal(d.inter[u, :n] == 0, exp["los"].astype(bool))
    assert d.los[u] == int(exp["los"][0])  # DeepMIMO: line of sight when the strongest path is


def test_one_slot_loads_with_the_paths_gains_delays_and_angles(scenarios):
    dense = _dense()
    ds = ragged_dataset(dense)
    out = export_deepmimo(ds, scenarios, scenario_name="one_slot", time_index=1, radiomaps=_radiomaps())
    assert out == scenarios / "one_slot" and (out / "params.json").is_file()
    data = dm.load("one_slot", max_paths=10)
    assert len(data) == 3  # two BS sectors (TX set 0) and a satellite (TX set 1), the cars receive (set 2)
    for j, d in enumerate(data):
        assert (d.txrx["tx_set_id"], d.txrx["rx_set_id"]) == ((0, 2) if j < 2 else (1, 2))
        np.testing.assert_allclose(d.rx_pos, np.stack([dense.ue_x_m[1], dense.ue_y_m[1], dense.ue_z_m[1]], -1))
        tx_xyz = BS_XYZ[j] if j < 2 else CENTER + SAT_RANGE * SAT_DIR
        np.testing.assert_allclose(np.asarray(d.tx_pos).ravel(), tx_xyz)
        for u in range(U):
            _check_link(d, dense, 1, u, j)
    assert data[0].los[1] == 0  # ue01's line-of-sight path to bs00-s0 is not its strongest
    params = json.loads((out / "params.json").read_text())
    assert params["rt_params"]["frequency"] == 3.5e9
    assert params["stin"]["tx_sets"]["1"]["tx"] == ["sat0"] and params["stin"]["scenes"][0]["sat_index"] == [5]


def test_every_slot_is_a_dynamic_scenario_read_from_the_file(scenarios, tmp_path):
    dense = _dense()
    path = tmp_path / "city" / "channels.nc"
    path.parent.mkdir()
    write_path_dataset(ragged_dataset(dense), path)
    _radiomaps().to_netcdf(path.parent / "radiomaps.nc")  # found beside channels.nc
    out = export_deepmimo(path, scenarios)
    assert out.name == "testcity" and sorted(p.name for p in out.iterdir() if p.is_dir()) == ["scene_0000", "scene_0001"]
    data = dm.load("testcity", max_paths=10)
    assert data.n_scenes == T
    for t in range(T):
        for j in range(len(TX)):
            for u in range(U):
                _check_link(data[t][j], dense, t, u, j)
        np.testing.assert_allclose(data[t][0].rx_pos[:, 0], dense.ue_x_m.values[t])
    # doppler beside the matrices (deepmimo.load does not read it), same layout
    dop = np.load(out / "scene_0001" / "doppler_t001_tx000_r002.npz")["doppler"]  # slot 1, the satellite
    for u in range(U):
        np.testing.assert_allclose(dop[u, : N_PATHS[u, 2]], _expected(dense, 1, u, 2)["doppler"], rtol=1e-6)
    # exporting again replaces the scenario and leaves no temporary folder
    export_deepmimo(path, scenarios, time_index=[1])
    assert sorted(p.name for p in scenarios.iterdir()) == ["testcity"]
    assert not any(p.is_dir() for p in (scenarios / "testcity").iterdir())


def test_one_port_pair_gives_its_exact_coefficient_and_deepmimo_its_channel(scenarios):
    dense = _dense()
    ds = ragged_dataset(dense)
    export_deepmimo(ds, scenarios, scenario_name="port", time_index=0, antenna=(1, 0), relative_delay=False)
    d = dm.load("port", max_paths=10, tx_sets={0: [0]})  # bs00-s0 only
    for u in range(U):
        exp = _expected(dense, 0, u, 0, antenna=(1, 0))
        n = N_PATHS[u, 0]
        got = np.sqrt(10 ** (d.power[u, :n].astype(float) / 10)) * np.exp(1j * np.radians(d.phase[u, :n].astype(float)))
        np.testing.assert_allclose(got, exp["coef"], rtol=1e-5)
    # DeepMIMO's OFDM channel (one isotropic antenna each side) is the pipeline's sum_p a_p exp(-j 2 pi f tau_p)
    # (pipeline.io.channel_vectors) over sqrt(number of subcarriers), DeepMIMO's normalisation
    bw, n_sc = 20e6, 64
    params = dm.ChannelParameters(bs_antenna={"shape": [1, 1]}, ue_antenna={"shape": [1, 1]},
                                  ofdm={"subcarriers": n_sc, "selected_subcarriers": np.arange(n_sc), "bandwidth": bw,
                                        "rx_filter": 0}, num_paths=10)
    h = np.asarray(d.compute_channels(params))[:, 0, 0, :]  # (ue, subcarrier)
    f = np.arange(n_sc) * bw / n_sc
    expected = channel_vectors(ds, 0, f)[:, 0, 1, 0, :] / np.sqrt(n_sc)  # bs00-s0, port pair (1, 0)
    np.testing.assert_allclose(h, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())


def test_relative_delays_start_at_each_links_first_arrival(scenarios):
    dense = _dense()
    export_deepmimo(ragged_dataset(dense), scenarios, scenario_name="rel", time_index=0, relative_delay=True)
    sat = dm.load("rel", max_paths=10, tx_sets={1: [0]})
    for u in range(U):
        n = N_PATHS[u, 2]
        np.testing.assert_allclose(np.sort(sat.delay[u, :n]), dense.tau_s.values[0, u, 2, :n] - dense.tau_s.values[0, u, 2, 0],
                                   atol=1e-15)


@pytest.mark.parametrize("kwargs, match", [
    ({"time_index": 5}, "out of range"),
    ({"time_index": "0"}, "not a slot index"),
    ({"scenario_name": "My City"}, "not a DeepMIMO scenario name"),
    ({"antenna": "max"}, "not understood"),
    ({"antenna": (2, 0)}, "out of range"),
])
def test_bad_arguments_are_refused_with_a_fix(scenarios, kwargs, match):
    with pytest.raises(StinError, match=match):
        export_deepmimo(ragged_dataset(_dense()), scenarios, **kwargs)
    assert not scenarios.exists() or not any(scenarios.iterdir())


def test_bad_inputs_are_refused_with_a_fix(scenarios, tmp_path):
    with pytest.raises(StinError, match="not found"):
        export_deepmimo(tmp_path / "missing.nc", scenarios)
    with pytest.raises(StinError, match="no ragged path rows"):
        export_deepmimo(_dense(), scenarios)  # dense, not ragged
    with pytest.raises(StinError, match="lacks"):
        export_deepmimo(ragged_dataset(_dense()).drop_vars("ue_z_m"), scenarios)
