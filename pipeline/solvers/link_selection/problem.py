"""One slot of Nguyen-Kha et al.'s problem (12): :class:`SlotProblem`, the scorer every algorithm's answer goes
through (:func:`evaluate`, rates (7)-(11) under either interference model) and random test instances.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

INTERFERENCE_MODELS = ("full_power", "per_user")


class InfeasibleError(ValueError):
    """No association satisfies the capacity and at-least-one-link constraints."""


@dataclass(frozen=True)
class SlotProblem:
    """One slot of the link-selection problem (linear gains, powers in W)."""

    h: np.ndarray  # (K, B) BS-cell gains
    g: np.ndarray  # (K, S) satellite gains
    p_bs_w: float
    p_sat_w: float
    noise_w: float
    cap_bs: int
    cap_sat: int
    other_bs: np.ndarray = field(default=None)  # (B,) users outside the study
    other_sat: np.ndarray = field(default=None)  # (S,)
    interference: str = "full_power"

    def __post_init__(self) -> None:
        if self.interference not in INTERFERENCE_MODELS:
            raise ValueError(f"interference must be one of {INTERFERENCE_MODELS}")
        if self.other_bs is None:
            object.__setattr__(self, "other_bs", np.zeros(self.h.shape[1], int))
        if self.other_sat is None:
            object.__setattr__(self, "other_sat", np.zeros(self.g.shape[1], int))

    @property
    def n_ue(self) -> int:
        return self.h.shape[0]

    @property
    def free_bs(self) -> np.ndarray:
        return np.maximum(self.cap_bs - np.asarray(self.other_bs), 0)

    @property
    def free_sat(self) -> np.ndarray:
        return np.maximum(self.cap_sat - np.asarray(self.other_sat), 0)

    def check_feasible(self) -> None:
        """Raise :class:`InfeasibleError` if the UEs cannot all get a link."""
        usable = int(self.free_bs.sum() + self.free_sat.sum())
        if usable < self.n_ue:
            raise InfeasibleError(f"{self.n_ue} UEs but only {usable} free links (capacities minus other users); "
                                  "raise N_max or lower the other users")


@dataclass(frozen=True)
class Evaluation:
    """Exact score of one association."""

    rates: np.ndarray  # (K,) bit/s/Hz
    sum_rate: float
    feasible: bool
    violations: list[str]
    sinr_bs: np.ndarray  # (K, B) SINR of each potential BS link under this association's loads
    sinr_sat: np.ndarray  # (K, S)


def evaluate(p: SlotProblem, x: np.ndarray, y: np.ndarray) -> Evaluation:
    """Rates, sum rate and constraint check of a binary association (x: K x B, y: K x S)."""
    x = np.asarray(x, float).round()
    y = np.asarray(y, float).round()
    d = x.sum(0) + p.other_bs
    e = y.sum(0) + p.other_sat
    pb = p.p_bs_w / np.maximum(d, 1)
    ps = p.p_sat_w / np.maximum(e, 1)
    if p.interference == "full_power":
        i_sat = (p.p_sat_w * p.g).sum(1)
        i_bs = (p.p_bs_w * p.h).sum(1)
    else:
        i_sat = (ps * p.g).sum(1)
        i_bs = (pb * p.h).sum(1)
    sinr_bs = pb * p.h / (i_sat + p.noise_w)[:, None]
    sinr_sat = ps * p.g / (i_bs + p.noise_w)[:, None]
    rates = (x * np.log2(1 + sinr_bs)).sum(1) + (y * np.log2(1 + sinr_sat)).sum(1)
    v = []
    if (x.sum(1) > 1).any():
        v.append("a UE on more than one BS (2)")
    if (y.sum(1) > 1).any():
        v.append("a UE on more than one satellite (4)")
    if (d > p.cap_bs).any():
        v.append("BS capacity exceeded (3)")
    if (e > p.cap_sat).any():
        v.append("satellite capacity exceeded (5)")
    if ((x.sum(1) + y.sum(1)) < 1).any():
        v.append("a UE without any link (6)")
    return Evaluation(rates, float(rates.sum()), not v, v, sinr_bs, sinr_sat)


def random_instance(rng: np.random.Generator, k: int, nb: int, ns: int, *, cap_bs: int = 4, cap_sat: int = 6,
                    other_bs: int = 1, other_sat: int = 2, interference: str = "full_power") -> SlotProblem:
    """Random slot in the ranges of this project's first check of the reconstructed SCA (project choice, not the
    paper's): h in 10^[-12, -8], g in 10^[-17, -15],
    P_B = 40 dBm, P_S = 30 dBW, 20 MHz, NF 7 dB, T_ant 290 K."""
    from pipeline.radio.link import noise_power_w  # noqa: PLC0415

    return SlotProblem(h=10 ** rng.uniform(-12, -8, (k, nb)), g=10 ** rng.uniform(-17, -15, (k, ns)),
                       p_bs_w=10.0, p_sat_w=1000.0, noise_w=noise_power_w(20e6, 7.0, 290.0),
                       cap_bs=cap_bs, cap_sat=cap_sat, other_bs=np.full(nb, other_bs),
                       other_sat=np.full(ns, other_sat), interference=interference)
