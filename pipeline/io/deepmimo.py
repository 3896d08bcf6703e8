"""Export ``channels.nc`` as a DeepMIMO v4 scenario folder (``deepmimo.load`` reads it).

DeepMIMO (A. Alkhateeb, "DeepMIMO: A Generic Deep Learning Dataset for Millimeter Wave and Massive
MIMO Applications", ITA 2019, arXiv:1902.06435) stores ray-traced paths element-free, per transmitter,
and applies antenna arrays itself. The layout written here is the one of DeepMIMO v4's own converters
(tested with the ``deepmimo`` package 4.0.5; the format is read by ``deepmimo.datasets.load``):

- ``params.json``: ``version``, ``rt_params`` (``frequency`` in Hz, ``max_path_depth``, ...), ``txrx_sets``
  (``txrx_set_0``: the BS sectors, ``txrx_set_1``: the serving satellites, ``txrx_set_<last>``: the cars,
  receive only; a kind without transmitters is left out and the ids stay consecutive), ``materials`` (none),
  ``scene`` (``num_scenes``; no geometry: an empty ``vertices.npz`` and ``objects.json``), and ``stin``
  (ignored by DeepMIMO: source, conventions, slot times, transmitter names, the satellite behind each
  rank, transmit powers);
- per transmitter ``i`` of TX set ``s`` and the cars' set ``r``, one ``<key>_t{s:03}_tx{i:03}_r{r:03}.npz``
  holding array ``<key>`` for each key of ``power`` (dB, path gain: transmit power 0 dBW), ``phase`` (deg),
  ``delay`` (s), ``aoa_az``/``aoa_el``/``aod_az``/``aod_el`` (deg), ``inter`` (interaction code),
  all (car, path); ``inter_pos`` (car, path, 1, 3) (m, all NaN: not kept by the pipeline); ``rx_pos``
  (car, 3) and ``tx_pos`` (1, 3) (m, the pipeline's local frame: x east, y north, z up);
- time: one slot gives a static scenario (the files above in the scenario folder); several slots give a
  DeepMIMO dynamic scenario, ``scene_0000``, ``scene_0001``, ... (sorted = slot order) holding the files
  of one slot each, ``params.json`` at the top with ``scene.num_scenes`` = the number of slots
  (``deepmimo.load`` then returns a ``DynamicDataset``, one ``MacroDataset`` per slot).

Conventions:

- Paths of a link are ordered strongest first (DeepMIMO's order: ``deepmimo.load(max_paths=N)`` keeps the
  first N columns; its default N is 25) and padded with NaN up to the transmitter's longest link (at
  least one column): ``num_paths`` counts the non-NaN entries, a link without paths is a NaN row.
- ``a`` carries every antenna pattern (BS sector pattern, satellite gain and NTN losses, the car's array
  ports), and DeepMIMO multiplies its own array response and element pattern on top (one isotropic
  element each side, ``ChannelParameters(bs_antenna={"shape": [1, 1]})``, reproduces the exported
  coefficients; DeepMIMO's default BS array is 8 x 1). ``antenna="sum"`` (default) collapses
  the (rx_ant, tx_ant) ports of a path into one coefficient: the transmit ports combined with the BS
  panel's fixed weights (``bs_tx_weight_real/imag``, as the pipeline's link gains do; a satellite has one
  port), ``a_eff[m] = sum_n w_n a[m, n]``, then ``power = 10 log10 sum_m |a_eff[m]|^2`` over the car's
  receive ports m (the power all the car's ports collect from the path: per-path maximum-ratio
  combining, polarisation-complete) and ``phase = angle(a_eff[0])`` (port 0's carrier phase; the
  ports' phases differ, and no single one is "the" path phase). ``antenna=(r, t)`` exports that one
  port pair's exact coefficient (power and phase of ``a[:, r, t]``, DeepMIMO's own Sionna converter's
  choice), which can sit in a polarisation or pattern null of that port.
  The through-wall ray of ``gain_db`` (``penetration_gain``) is not a path row and is not exported.
- Angles: DeepMIMO's ``*_el`` are zenith angles (its array response uses sin(el) cos(az), sin(el)
  sin(az), cos(el), as Sionna's theta); ``aod_*`` = ``theta_t``/``phi_t``, ``aoa_*`` = ``theta_r``/
  ``phi_r``, in degrees, azimuth from x (east) towards y (north).
- ``inter``: 0 for a line-of-sight path, 1 for any other path. The pipeline keeps no interaction types,
  so the ``1`` means "interactions of unknown kind": DeepMIMO's ``los`` (1 when the *strongest* path is
  line of sight) is right, its interaction counts/strings and ``trim_by_path_type``/``_depth`` are not.
- ``delay``: the propagation delay (``relative_delay=False``), as DeepMIMO's ray tracers give it; a
  satellite's (milliseconds) exceeds an OFDM symbol and DeepMIMO's frequency-domain generator zeroes
  such paths: export with ``relative_delay=True`` (delays from each link's first arrival, what a
  receiver synchronised to the link sees) to build OFDM channels of satellite links.
- Positions: the cars at the slot (``ue_x_m``/``ue_y_m``/``ue_z_m``); a BS sector at its site
  (``bs_x_m``/``bs_y_m``/``bs_z_m`` of ``radiomaps.nc``); a satellite at the map centre + its slant
  range along ``sat_direction_enu`` (the centre, too, comes from ``radiomaps.nc``). Without
  ``radiomaps.nc`` (``radiomaps=None`` and no such file beside ``channels.nc``) transmitter positions
  are NaN; a satellite rank without a satellite in a slot has a NaN position and no paths.
- Doppler: DeepMIMO computes Doppler from velocities it is given; the pipeline's per-path
  ``doppler_hz`` is written beside the matrices as ``doppler_t..._r...npz`` (array ``doppler``, Hz, same
  layout), which ``deepmimo.load`` does not read: ``d.set_doppler(np.load(f)["doppler"][:, :d.max_paths])``.

>>> scen = export_deepmimo("data/helsinki/channels.nc", "data/helsinki/deepmimo", time_index=0)
>>> import deepmimo as dm; dm.config("scenarios_folder", str(scen.parent)); d = dm.load(scen.name)
"""

from __future__ import annotations

import importlib.metadata
import json
import operator
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from pipeline.errors import StinError
from pipeline.io.atomic import atomic_dir, json_safe
from pipeline.io.pathstore import ROW_VARS, SlotPaths, is_ragged, read_slot

DEEPMIMO_TESTED_VERSION = "4.0.5"  # the deepmimo release this layout was checked against (tests/test_deepmimo_export.py)
TX_KINDS = (("bs", "bs_sectors"), ("sat", "satellites"))  # tx_kind -> DeepMIMO TX set name, in set-id order
RX_SET_NAME = "cars"
SCENE_FOLDER = "scene_{:04d}"
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
REQUIRED_VARS = ("ue_x_m", "ue_y_m", "ue_z_m", "tx_kind")


def mat_filename(key: str, tx_set: int, tx_idx: int, rx_set: int) -> str:
    """DeepMIMO's matrix file name (``deepmimo.utils.get_mat_filename`` with its default ``npz`` format)."""
    return f"{key}_t{tx_set:03}_tx{tx_idx:03}_r{rx_set:03}.npz"


def export_deepmimo(channels: xr.Dataset | str | os.PathLike, out_dir: str | os.PathLike, *,
                    scenario_name: str | None = None, time_index: int | Sequence[int] | None = None,
                    antenna: str | tuple[int, int] = "sum", relative_delay: bool = False,
                    radiomaps: xr.Dataset | str | os.PathLike | None = None) -> Path:
    """Write the channels as DeepMIMO scenario ``out_dir/scenario_name`` and return that folder.

    ``out_dir`` plays DeepMIMO's scenarios folder: ``deepmimo.config("scenarios_folder", str(out_dir))``
    then ``deepmimo.load(scenario_name)``. ``scenario_name`` (lowercase: ``deepmimo.load`` lowercases
    names) defaults to the dataset's city. ``time_index``: one slot (a static scenario), several (a
    dynamic scenario, one scene per slot, in the order given) or None (every slot). ``antenna``,
    ``relative_delay`` and the positions (``radiomaps``: ``radiomaps.nc`` or its dataset; by default the
    file beside ``channels`` when that is a path): see the module docstring. The folder is written
    beside its final place and renamed into it at the end (an existing scenario is replaced).
    """
    opened = []
    try:
        if not isinstance(channels, xr.Dataset):
            src = Path(channels)
            if not src.is_file():
                raise StinError(f"{src} not found", "run the pipeline first ('dvc repro') or pass an existing "
                                                    "channels.nc / an xarray Dataset")
            channels = xr.open_dataset(src, engine="netcdf4")
            opened.append(channels)
            if radiomaps is None and (src.parent / "radiomaps.nc").is_file():
                radiomaps = src.parent / "radiomaps.nc"
        if radiomaps is not None and not isinstance(radiomaps, xr.Dataset):
            if not Path(radiomaps).is_file():
                raise StinError(f"{radiomaps} not found", "pass the city's radiomaps.nc or radiomaps=None")
            radiomaps = xr.open_dataset(radiomaps, engine="netcdf4")
            opened.append(radiomaps)
        return _export(channels, Path(out_dir), scenario_name, time_index, antenna, relative_delay, radiomaps)
    finally:
        for ds in opened:
            ds.close()


def _check_input(ds: xr.Dataset, scenario_name: str | None, time_index: Any, antenna: Any) -> tuple[str, list[int]]:
    if not is_ragged(ds) or any(v not in ds.variables for v in ROW_VARS):
        raise StinError("the dataset holds no ragged path rows (num_paths, a_real, tau_s, ...)",
                        "pass channels.nc (pipeline.io.load_channels) or a dataset from "
                        "pipeline.io.pathstore.attach_rows / ragged_dataset")
    missing = [v for v in REQUIRED_VARS if v not in ds.variables]
    if missing:
        raise StinError(f"the dataset lacks {missing}", "pass the channels stage's channels.nc (it has the cars' "
                                                        "positions and the transmitters' kinds)")
    if ds.sizes.get("ue", 0) == 0 or ds.sizes.get("tx", 0) == 0 or ds.sizes.get("time", 0) == 0:
        raise StinError("the dataset has no cars, transmitters or slots", "export a non-empty channels.nc")
    name = str(scenario_name if scenario_name is not None else ds.attrs.get("city", "stin"))
    if not NAME_RE.match(name):
        raise StinError(f"scenario name {name!r} is not a DeepMIMO scenario name",
                        "use lowercase letters, digits, '_', '-' and '.' (deepmimo.load lowercases names)")
    n_time = ds.sizes["time"]
    if time_index is None:
        slots = list(range(n_time))
    else:
        raw = [time_index] if np.ndim(time_index) == 0 else list(time_index)
        try:
            slots = [int(_as_int(t)) for t in raw]
        except TypeError:
            raise StinError(f"time_index {time_index!r} is not a slot index or a list of them",
                            f"pass integers in [0, {n_time})") from None
        bad = [t for t in slots if not 0 <= t < n_time]
        if bad or not slots:
            raise StinError(f"time_index {time_index!r} is out of range (the file has {n_time} slots)",
                            f"pass slot indices in [0, {n_time}) or None for every slot")
    if isinstance(antenna, str):
        if antenna != "sum":
            raise StinError(f"antenna {antenna!r} is not understood", "pass 'sum' or a port pair (rx_ant, tx_ant)")
    else:
        try:
            r, t = (int(_as_int(i)) for i in antenna)
        except (TypeError, ValueError):
            raise StinError(f"antenna {antenna!r} is not understood",
                            "pass 'sum' or a port pair (rx_ant, tx_ant)") from None
        if not (0 <= r < ds.sizes["rx_ant"] and 0 <= t < ds.sizes["tx_ant"]):
            raise StinError(f"antenna port pair {antenna!r} is out of range",
                            f"rx_ant in [0, {ds.sizes['rx_ant']}), tx_ant in [0, {ds.sizes['tx_ant']})")
    return name, slots


def _as_int(value: Any) -> int:
    """``value`` as an int if it is an integer (bool excluded), else TypeError."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError
    return operator.index(value)


def _tx_positions(ds: xr.Dataset, radiomaps: xr.Dataset | None, t: int) -> np.ndarray:
    """(tx, 3) transmitter positions at slot ``t`` in the local frame; NaN where unknown."""
    kinds = ds["tx_kind"].values.astype(str)
    names = ds["tx"].values.astype(str)
    pos = np.full((len(kinds), 3), np.nan)
    if radiomaps is None:
        return pos
    need = ("bs_x_m", "bs_y_m", "bs_z_m")
    if any(v not in radiomaps.variables for v in need) or "x" not in radiomaps.coords or "y" not in radiomaps.coords:
        raise StinError("radiomaps lacks the BS sites (bs_x_m, bs_y_m, bs_z_m) or the map grid (x, y)",
                        "pass the city's radiomaps.nc (from the same run as channels.nc) or radiomaps=None")
    site = {str(b): i for i, b in enumerate(radiomaps["bs"].values)}
    xyz = np.stack([radiomaps[v].values for v in need], axis=-1)
    for j in np.flatnonzero(kinds == "bs"):
        if names[j] not in site:
            raise StinError(f"BS sector {names[j]} of the channels is not in radiomaps",
                            "pass the radiomaps.nc of the same run as channels.nc")
        pos[j] = xyz[site[names[j]]]
    sat = np.flatnonzero(kinds == "sat")
    if sat.size and "sat_direction_enu" in ds.variables and "sat_slant_range_m" in ds.variables:
        center = np.array([float(radiomaps.x.mean()), float(radiomaps.y.mean()), 0.0])  # slant ranges end here
        direction = ds["sat_direction_enu"].values[t]  # (rank, 3)
        rng = ds["sat_slant_range_m"].values[t]
        present = ds["sat_index"].values[t] >= 0 if "sat_index" in ds.variables else np.ones(len(rng), bool)
        for r, j in enumerate(sat):
            if r < len(rng) and present[r] and np.isfinite(rng[r]):
                pos[j] = center + direction[r] * rng[r]
    return pos


def tx_port_weights(ds: xr.Dataset) -> np.ndarray:
    """(tx, tx_ant) complex weights combining each transmitter's ports: a BS sector's panel weights
    (``bs_tx_weight_real/imag``), port 0 for a satellite (its one isotropic port), as
    :func:`pipeline.radio.channels.link_gain_from_paths` combines them."""
    kinds = ds["tx_kind"].values.astype(str)
    n_ant = int(ds.sizes.get("tx_ant", 1))
    weights = np.zeros((len(kinds), n_ant), np.complex128)
    weights[:, 0] = 1.0
    if "bs_tx_weight_real" in ds.variables and "bs_tx_weight_imag" in ds.variables:
        w = ds["bs_tx_weight_real"].values + 1j * ds["bs_tx_weight_imag"].values
        weights[kinds == "bs"] = 0.0
        weights[kinds == "bs", : len(w)] = w
    elif n_ant > 1 and (kinds == "bs").any():
        raise StinError("the BS sectors have several transmit ports but the dataset has no panel weights "
                        "(bs_tx_weight_real/imag)", "pass the channels stage's channels.nc, or antenna=(rx_ant, tx_ant)")
    return weights


def _slot_matrices(slot: SlotPaths, antenna: str | tuple[int, int], relative_delay: bool,
                   weights: np.ndarray | None) -> dict[str, np.ndarray]:
    """Padded (ue, tx, W) path matrices of one slot, strongest path first, NaN padding."""
    n_ue, n_tx = slot.num_paths.shape
    a = slot.a.astype(np.complex128)
    if antenna == "sum":
        a_eff = np.einsum("pmn,pn->pm", a, weights[slot.link_of_row() % n_tx])
        power_lin = np.sum(np.abs(a_eff) ** 2, axis=1)
        coef = a_eff[:, 0]
    else:
        coef = a[:, antenna[0], antenna[1]]
        power_lin = np.abs(coef) ** 2
    with np.errstate(divide="ignore"):
        power_db = 10 * np.log10(power_lin)
    link = slot.link_of_row()
    order = np.lexsort((-power_lin, link))  # stable: equal powers keep the delay order
    counts = slot.num_paths.ravel()
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(slot.n_rows) - starts[link]  # link is sorted, so row i of `order` lands at pos[i]
    ue, tx = np.divmod(link, n_tx)
    width = max(1, int(counts.max(initial=0)))
    tau = slot.tau_s.astype(np.float64)
    if relative_delay and slot.n_rows:
        first = np.full(n_ue * n_tx, np.inf)
        np.minimum.at(first, link, tau)
        tau = tau - first[link]
    fields = {
        "power": (power_db, np.float32), "phase": (np.angle(coef, deg=True), np.float32), "delay": (tau, np.float64),
        "aoa_az": (np.degrees(slot.phi_r_rad.astype(np.float64)), np.float32),
        "aoa_el": (np.degrees(slot.theta_r_rad.astype(np.float64)), np.float32),
        "aod_az": (np.degrees(slot.phi_t_rad.astype(np.float64)), np.float32),
        "aod_el": (np.degrees(slot.theta_t_rad.astype(np.float64)), np.float32),
        "inter": (np.where(slot.path_los.astype(bool), 0.0, 1.0), np.float32),
        "doppler": (slot.doppler_hz.astype(np.float64), np.float32),
    }
    out = {}
    for key, (values, dtype) in fields.items():
        m = np.full((n_ue, n_tx, width), np.nan, dtype)
        m[ue, tx, pos] = values[order]
        out[key] = m
    out["num_paths"] = slot.num_paths
    return out


def _write_scene(folder: Path, mats: dict[str, np.ndarray], rx_pos: np.ndarray, tx_pos: np.ndarray,
                 sets: list[tuple[int, np.ndarray]], rx_set: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(folder / "vertices.npz", vertices=np.zeros((0, 3)))  # no scene geometry
    (folder / "objects.json").write_text("[]\n", encoding="utf-8")
    for set_id, txs in sets:
        for i, j in enumerate(txs):
            width = max(1, int(mats["num_paths"][:, j].max(initial=0)))
            arrays = {key: mats[key][:, j, :width] for key in ("power", "phase", "delay", "aoa_az", "aoa_el",
                                                                "aod_az", "aod_el", "inter", "doppler")}
            arrays["inter_pos"] = np.full((rx_pos.shape[0], width, 1, 3), np.nan, np.float32)
            arrays["rx_pos"] = rx_pos
            arrays["tx_pos"] = tx_pos[j][None, :]
            for key, value in arrays.items():
                np.savez_compressed(folder / mat_filename(key, set_id, i, rx_set), **{key: value})


def _export(ds: xr.Dataset, out_dir: Path, scenario_name: str | None, time_index: Any,
            antenna: str | tuple[int, int], relative_delay: bool, radiomaps: xr.Dataset | None) -> Path:
    name, slots = _check_input(ds, scenario_name, time_index, antenna)
    if not isinstance(antenna, str):
        antenna = (int(antenna[0]), int(antenna[1]))
    kinds = ds["tx_kind"].values.astype(str)
    names = ds["tx"].values.astype(str) if "tx" in ds.coords else np.array([f"tx{j}" for j in range(len(kinds))])
    sets = [(kind, label, np.flatnonzero(kinds == kind)) for kind, label in TX_KINDS]
    sets = [s for s in sets if s[2].size]
    unknown = sorted(set(kinds) - {k for k, _ in TX_KINDS})
    if unknown or not sets:
        raise StinError(f"transmitter kinds {unknown or 'none'} in tx_kind", "tx_kind must be 'bs' or 'sat'")
    set_ids = [(i, txs) for i, (_, _, txs) in enumerate(sets)]
    rx_set = len(sets)
    n_ue = ds.sizes["ue"]
    time_values = ds["time"].values if "time" in ds.coords else np.arange(ds.sizes["time"])
    weights = tx_port_weights(ds) if antenna == "sum" else None
    scenes = []
    first = None
    target = out_dir / name
    with atomic_dir(target) as tmp:
        for k, t in enumerate(slots):
            slot = read_slot(ds, t)
            first = slot.num_paths if first is None else first
            mats = _slot_matrices(slot, antenna, relative_delay, weights)
            rx_pos = np.stack([ds[v].values[t] for v in ("ue_x_m", "ue_y_m", "ue_z_m")], axis=-1).astype(np.float64)
            tx_pos = _tx_positions(ds, radiomaps, t)
            folder = tmp if len(slots) == 1 else tmp / SCENE_FOLDER.format(k)
            _write_scene(folder, mats, rx_pos, tx_pos, set_ids, rx_set)
            scenes.append({"folder": folder.name if len(slots) > 1 else ".", "time_index": int(t),
                           "time": str(time_values[t]), "cars_with_paths": int((slot.num_paths.sum(1) > 0).sum()),
                           "sat_index": (ds["sat_index"].values[t].tolist() if "sat_index" in ds.variables else None)})
        txrx = {}
        for set_id, (kind, label, txs) in enumerate(sets):
            txrx[f"txrx_set_{set_id}"] = _txrx_set(label, set_id, True, len(txs), len(txs))
        txrx[f"txrx_set_{rx_set}"] = _txrx_set(RX_SET_NAME, rx_set, False, n_ue, int((first.sum(1) > 0).sum()))
        params = {
            "version": DEEPMIMO_TESTED_VERSION,
            "rt_params": _rt_params(ds),
            "txrx_sets": txrx,
            "materials": {},
            "scene": {"num_scenes": len(slots), "n_objects": 0, "n_vertices": 0, "n_faces": 0,
                      "n_triangular_faces": 0, "representation": "hull"},
            "stin": {
                "source": "stin-raytrace channels.nc (pipeline/io/deepmimo.py)",
                "antenna": antenna if isinstance(antenna, str) else list(antenna),
                "relative_delay": bool(relative_delay),
                "power": "dB path gain, transmit power 0 dBW; every antenna pattern applied",
                "inter": "0: line of sight, 1: a path with interactions of unknown kind",
                "frame": "local frame of the pipeline, metres: x east, y north, z up",
                "tx_positions_known": radiomaps is not None,
                "tx_sets": {str(i): {"kind": kind, "tx": names[txs].tolist()} for i, (kind, _, txs) in enumerate(sets)},
                "ue": ds["ue"].values.astype(str).tolist() if "ue" in ds.coords else list(range(n_ue)),
                "rx_ant": int(ds.sizes.get("rx_ant", 1)), "tx_ant": int(ds.sizes.get("tx_ant", 1)),
                "scenes": scenes,
                "attrs": {k: v.item() if isinstance(v, np.generic) else v for k, v in ds.attrs.items()
                          if isinstance(v, (str, int, float, np.generic))},
            },
        }
        (tmp / "params.json").write_text(json.dumps(json_safe(params), indent=2, sort_keys=True, allow_nan=False)
                                         + "\n", encoding="utf-8")
    return target


def _txrx_set(name: str, set_id: int, is_tx: bool, n: int, n_active: int) -> dict[str, Any]:
    """One ``txrx_set_<id>`` entry: exactly the fields of ``deepmimo.TxRxSet`` (the loader builds one from it)."""
    return {"name": name, "id_orig": set_id, "id": set_id, "is_tx": is_tx, "is_rx": not is_tx, "num_points": n,
            "num_active_points": n_active, "num_ant": 1, "dual_pol": False, "ant_rel_positions": [[0, 0, 0]],
            "array_orientation": [0, 0, 0], "grid_spacing": None}


def _rt_params(ds: xr.Dataset) -> dict[str, Any]:
    """``rt_params`` with the fields of ``deepmimo.RayTracingParameters`` (what the pipeline traced)."""
    depth = int(ds.attrs.get("max_depth", 0))
    return {
        "raytracer_name": "Sionna Ray Tracing", "raytracer_version": _sionna_version(),
        "frequency": float(ds.attrs.get("freq_hz", float("nan"))),
        "max_path_depth": depth, "max_reflections": depth, "max_diffractions": int(bool(ds.attrs.get("diffraction", 0))),
        "max_scattering": 0, "max_transmissions": 0, "diffuse_reflections": 0, "diffuse_diffractions": 0,
        "diffuse_transmissions": 0, "diffuse_final_interaction_only": False, "diffuse_random_phases": False,
        "terrain_reflection": False, "terrain_diffraction": False, "terrain_scattering": False,
        "num_rays": 0, "ray_casting_method": "fibonacci", "synthetic_array": False,
        "ray_casting_range_az": 360.0, "ray_casting_range_el": 180.0, "gps_bbox": [0, 0, 0, 0], "raw_params": {},
    }


def _sionna_version() -> str:
    try:
        return importlib.metadata.version("sionna-rt")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"
