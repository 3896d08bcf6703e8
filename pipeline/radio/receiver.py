"""The car's rooftop receiver: one model, used identically by every stage.

Nguyen-Kha et al., "Seamless 5G Automotive Connectivity with Integrated Satellite
Terrestrial Networks in C-Band" (arXiv 2408.15394), give the car a zenith-facing patch
array on its roof and apply *one fixed pattern* to every ray, wanted and interfering
alike; their Fig. 2 trends (BS-UE CINR falls, LEO-UE CINR rises with the distance to the
BS) come from that pattern's low gain toward the horizon. That is the default here.

Patch element (rotationally symmetric about the zenith): the TR 38.901 Table 7.3-1
element's vertical cut turned about its boresight,

    G_el(alpha) = G_max - min(12 (alpha / alpha_3dB)^2, A_max),   alpha = angle off the zenith.

Array (rows along east, cols along north, spacing d wavelengths, uniform fixed weights,
broadside to the zenith), for an arrival direction u = (u_e, u_n, u_z):

    |AF|^2 / N = [sin(R pi d u_e) / sin(pi d u_e)]^2 [sin(C pi d u_n) / sin(pi d u_n)]^2 / (R C)

Models (``params.yaml ue.receiver``):

- ``fixed_array`` (default, the paper's): every ray gets G_el |AF|^2 / N; the peak is
  G_max + 10 log10(R C) at the zenith.
- ``steered_array``: the array is combined toward the wanted link. Every ray gets the
  element gain G_el; the wanted link gets the coherent array gain 10 log10(R C) on top,
  interferers none (a combiner steered elsewhere averages |AF|^2 / N to 1).

The NumPy functions are the reference; :meth:`ReceiverModel.drjit_ray_gain` evaluates the
same formulas in Dr.Jit for the radio-map hook (pipeline.radio.mapsolver).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from pipeline.errors import StinError

RECEIVER_MODES = ("fixed_array", "steered_array")
PATCH_MAX_ATTENUATION_DB = 30.0  # TR 38.901 Table 7.3-1 A_max (front-to-back ratio)


@dataclass(frozen=True)
class ReceiverModel:
    """The UE rooftop antenna (see module docstring)."""

    mode: str = "fixed_array"
    rows: int = 4
    cols: int = 4
    spacing_wl: float = 0.5
    element_gain_dbi: float = 6.0
    element_3db_deg: float = 65.0
    max_attenuation_db: float = PATCH_MAX_ATTENUATION_DB

    @classmethod
    def from_params(cls, ue: dict[str, Any]) -> "ReceiverModel":
        from pipeline.config import number  # noqa: PLC0415

        w = "params.yaml ue"
        mode = ue.get("receiver", "fixed_array")
        if mode not in RECEIVER_MODES:
            raise StinError(f"{w}: receiver {mode!r} is unknown", f"use one of {', '.join(RECEIVER_MODES)}")
        rows, cols = number(ue, "array_rows", w), number(ue, "array_cols", w)
        if not (float(rows).is_integer() and float(cols).is_integer()):
            raise StinError(f"{w}: array_rows/array_cols must be whole numbers, got {rows} x {cols}",
                            "use integers such as 4")
        return cls(mode=mode, rows=int(rows), cols=int(cols),
                   spacing_wl=number(ue, "spacing_wl", w) if "spacing_wl" in ue else 0.5,
                   element_gain_dbi=number(ue, "element_gain_dbi", w, positive=False),
                   element_3db_deg=number(ue, "element_3db_deg", w))

    @property
    def n_elements(self) -> int:
        return self.rows * self.cols

    @property
    def wanted_gain_db(self) -> float:
        """Extra gain of the wanted link: 10 log10(N) when steered, 0 for the fixed pattern."""
        return 10 * math.log10(self.n_elements) if self.mode == "steered_array" else 0.0

    @property
    def wanted_gain(self) -> float:
        return 10 ** (self.wanted_gain_db / 10)

    # ------------------------------------------------------------ NumPy reference
    def element_gain_db(self, arrival_enu: np.ndarray) -> np.ndarray:
        """G_el toward unit vectors (..., 3) pointing from the car to where the ray comes from."""
        u = np.asarray(arrival_enu, float)
        alpha_deg = np.degrees(np.arccos(np.clip(u[..., 2], -1.0, 1.0)))
        return self.element_gain_dbi - np.minimum(12.0 * (alpha_deg / self.element_3db_deg) ** 2,
                                                  self.max_attenuation_db)

    def array_factor_db(self, arrival_enu: np.ndarray) -> np.ndarray:
        """10 log10(|AF|^2 / N) of the fixed broadside array (0 dB on average, +10 log10 N at the zenith)."""
        u = np.asarray(arrival_enu, float)
        return (_line_factor_db(u[..., 0], self.rows, self.spacing_wl)
                + _line_factor_db(u[..., 1], self.cols, self.spacing_wl))

    def ray_gain_db(self, arrival_enu: np.ndarray) -> np.ndarray:
        """Receive gain applied to every ray (wanted and interfering) [dBi]."""
        g = self.element_gain_db(arrival_enu)
        return g + self.array_factor_db(arrival_enu) if self.mode == "fixed_array" else g

    def ray_gain(self, arrival_enu: np.ndarray) -> np.ndarray:
        return 10 ** (self.ray_gain_db(arrival_enu) / 10)

    # ------------------------------------------------------------ Dr.Jit (radio-map hook)
    def drjit_ray_gain(self, arrival):  # noqa: ANN001, ANN201
        """Linear :meth:`ray_gain` for a ``mi.Vector3f`` of arrival directions (world = ENU)."""
        import drjit as dr  # noqa: PLC0415
        import mitsuba as mi  # noqa: PLC0415

        alpha_deg = dr.acos(dr.clip(arrival.z, -1.0, 1.0)) * (180.0 / math.pi)
        att = dr.minimum(12.0 * dr.square(alpha_deg / self.element_3db_deg), self.max_attenuation_db)
        g = dr.power(10.0, (self.element_gain_dbi - att) / 10.0)
        if self.mode == "fixed_array":
            g = g * _drjit_line_factor(arrival.x, self.rows, self.spacing_wl) \
                  * _drjit_line_factor(arrival.y, self.cols, self.spacing_wl)
        return mi.Float(g)


def _line_factor_db(u: np.ndarray, n: int, d_wl: float) -> np.ndarray:
    """10 log10(|sum_k exp(j 2 pi d k u)|^2 / n) for a uniform line of n elements."""
    psi = math.pi * d_wl * np.asarray(u, float)
    s = np.sin(psi)
    small = np.abs(s) < 1e-9
    ratio = np.where(small, float(n), np.sin(n * psi) / np.where(small, 1.0, s))
    return 10 * np.log10(np.maximum(ratio**2 / n, 1e-30))


def _drjit_line_factor(u, n: int, d_wl: float):  # noqa: ANN001, ANN202
    import drjit as dr  # noqa: PLC0415

    psi = math.pi * d_wl * u
    s = dr.sin(psi)
    small = dr.abs(s) < 1e-6
    ratio = dr.select(small, float(n), dr.sin(n * psi) / dr.select(small, 1.0, s))
    return dr.maximum(dr.square(ratio) / n, 1e-30)
