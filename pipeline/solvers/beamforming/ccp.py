"""The lifted DC programme of (17) and the convex-concave procedure's pieces: complex PSD variables as real
blocks, the tangents (35), the Cauchy-Schwarz (60)-(65) and S-procedure (66)-(68) robust bounds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pipeline.solvers.beamforming.evaluate import Beamformers, Evaluation
from pipeline.solvers.beamforming.model import LN2, MAX_ITERATIONS, TOLERANCE, BeamformingInfeasible, BeamformingProblem


@dataclass(frozen=True)
class SolverOptions:
    max_iterations: int = MAX_ITERATIONS
    tolerance: float = TOLERANCE
    randomizations: int = 200  # Gaussian randomisation draws when a lifted matrix is not rank one
    rank_tol: float = 1e-4  # lambda_2 / lambda_1 below this counts as rank one (IPM accuracy ~1e-7..1e-6)
    solver: str = "CLARABEL"  # SDP + exponential cones; falls back to SCS
    seed: int = 0  # randomisation RNG

    @staticmethod
    def quick() -> SolverOptions:
        return SolverOptions(max_iterations=8, tolerance=1e-2, randomizations=40)


@dataclass
class Trace:
    """Lifted objective per CCP iterate (index 0 = the feasible starting point), timings in s."""

    objective: list = field(default_factory=list)
    iteration_s: list = field(default_factory=list)
    phase1_s: float = 0.0
    extract_s: float = 0.0
    total_s: float = 0.0
    stopped: str = "converged"
    solver: str = ""
    rejected: int = 0  # CCP steps refused because the solver returned a lower objective (round-off)

    @property
    def iterations(self) -> int:
        return len(self.iteration_s)


@dataclass
class Design:
    """A scheme's answer: rank-one beams, the evaluator's report and the algorithm's own numbers."""

    scheme: str
    beams: Beamformers
    report: Evaluation
    objective: float  # the algorithm's final lifted objective (bit/s/Hz)
    trace: Trace
    extraction: str = "eigenvector"
    encoded_rates: np.ndarray | None = None
    notes: list = field(default_factory=list)
    sensing_dual: np.ndarray | None = None  # (T,) shadow price of (17d) [bit/s/Hz per dB of Gamma_t] (PA1/PA2)
    lifted: list | None = field(default=None, repr=False)  # PA1/PA2: the reported iterate's variable values
    warm_started: bool = False  # PA1/PA2: the CCP started from another design's lifted point

    @property
    def sum_rate(self) -> float:
        return self.report.delivered_sum_rate


_OK = ("optimal", "optimal_inaccurate")
_HINTS = {"qos (17b)": "lower r0 (sinr_min_db) or serve fewer users", "backhaul (17c)": "raise Ps or lower r0",
          "sensing (17d)": "lower the sensing EIRP Gamma (sensing_eirp_dbw)", "satellite power (17e)": "raise Ps",
          "BS power (17f)": "raise PT"}


def _solve(prob: Any, solver: str, *, fallback: bool = True, kkt: str = "qdldl") -> str:
    """Solve with Clarabel (QDLDL, then faer, then faer with 10x the static regularisation, which
    gets the robust subproblems past Clarabel's "insufficient progress" stalls as an
    ``optimal_inaccurate`` point; every design is re-scored by :func:`evaluate` anyway) and, if
    all fail and ``fallback``, SCS. ``kkt="faer"`` tries faer first: on the S-procedure LMIs, whose
    dense cone blocks dominate the KKT factorisation, it is ~4x faster than QDLDL (scripts/bench_beamforming.py)."""
    import cvxpy as cp

    tries: list[tuple[str, dict]] = []
    if solver == "CLARABEL":
        tries = [("CLARABEL", {"direct_solve_method": "qdldl"}), ("CLARABEL", {}),
                 ("CLARABEL", {"static_regularization_constant": 1e-7})]
        if kkt == "faer":
            tries = tries[1:2] + tries[:1] + tries[2:]
        if fallback:
            tries.append(("SCS", {"eps": 1e-6, "max_iters": 5000}))
    else:
        tries = [(solver, {})]
    for name, kw in tries:
        try:
            prob.solve(solver=name, warm_start=False, **kw)  # cvxpy would reuse the last Clarabel solver via
            # update(), which made the same data solve differently depending on what was solved before
        except cp.error.SolverError:
            continue
        if prob.status in ("optimal", "infeasible", "unbounded") or (
                prob.status in ("optimal_inaccurate", "infeasible_inaccurate") and name == tries[-1][0]):
            return prob.status
    return prob.status if prob.status in ("optimal_inaccurate", "infeasible_inaccurate") else "solver_error"


STRICT_VIOLATION = 1e-4  # elastic phase-1 violation (normalised units: power shares, SINR / gamma, EIRP / Gamma)
# below which a bisection counts a point feasible; the violation rises steeply past the boundary


class _DcModel:
    """Lifted DC programme: maximise scale * sum_m [log2(S_m + I_m + 1) - log2(I_m + 1)] with S, I
    affine (noise-normalised) and a backhaul that is either variable (joint: log2(1 + Ss/(Ds + 1)),
    constraint (40)) or a constant cap (TDMA slot) or absent.

    At iterate k every concave ln(z) that is kept is written ln(z_k) + ln(z / z_k) and every one
    that is linearised becomes the tangent (35) ln(z_k) + z / z_k - 1; 1/z_k and ln z_k are DPP
    parameters, so the SDP is compiled once, and the exponential cones see arguments near 1
    (Clarabel stalls on ln(Ss) with Ss ~ 1e4 otherwise)."""

    def __init__(self, s: Any, i: Any, *, families: dict, gamma_min: float, rate_scale: float = 1.0,
                 backhaul: tuple | None = None, power: Any, variables: list, rate_min: float = 0.0) -> None:
        import cvxpy as cp

        self.cp = cp
        self.kkt = "qdldl"  # Clarabel's first KKT solver (_solve); the S-procedure model sets "faer"
        self.warm = False  # run() started from a warm start
        self.csi_params: tuple[dict, dict] | None = None  # (radius, radius^2) parameters (_joint_model eps_param)
        self.gamma_scale: Any = None  # Gamma_t / p.gamma_w[t] parameter (_joint_model gamma_param)
        self.S, self.I = s, i
        m = s.shape[0]
        self.m = m
        self.scale = rate_scale
        self.variables = variables
        self.backhaul = backhaul
        par = {k: cp.Parameter(m, nonneg=True) for k in ("iz", "ii")}
        par.update({k: cp.Parameter(m) for k in ("lz", "li")})
        par.update({k: cp.Parameter(nonneg=True) for k in ("izs", "ids")})
        par.update({k: cp.Parameter() for k in ("lzs", "lds")})
        self.par = par
        z, i1 = s + i + 1, i + 1
        ln_z = par["lz"] + cp.log(cp.multiply(par["iz"], z))
        ln_i = par["li"] + cp.log(cp.multiply(par["ii"], i1))
        tan_z = par["lz"] + cp.multiply(par["iz"], z) - 1
        tan_i = par["li"] + cp.multiply(par["ii"], i1) - 1
        obj = cp.sum(ln_z) - cp.sum(tan_i)
        hard = list(families.get("_hard", []))
        soft = {k: list(v) for k, v in families.items() if k != "_hard"}  # affine g, g >= 0 required
        fam = {k: [g >= 0 for g in v] for k, v in soft.items()}
        fam["qos (17b)"] = [s >= gamma_min * i1] if gamma_min > 0 else []
        if backhaul is None:
            fam["backhaul (17c)"] = []
        elif backhaul[0] == "joint":
            ss, ds = backhaul[1], backhaul[2]
            ln_zs = par["lzs"] + cp.log(par["izs"] * (ss + ds + 1))
            tan_ds = par["lds"] + par["ids"] * (ds + 1) - 1
            fam["backhaul (17c)"] = [ln_zs + cp.sum(ln_i) - tan_ds - cp.sum(tan_z) >= 0]  # (40)
        else:  # constant cap on scale * sum_m R_m
            fam["backhaul (17c)"] = [cp.sum(tan_z) - cp.sum(ln_i) <= backhaul[1] * LN2 / rate_scale]
        self.families = fam
        self.hard = hard
        self.prob = cp.Problem(cp.Maximize(obj), hard + [c for cs in fam.values() for c in cs])
        # phase 1: every user exactly at r0 (upper side hard), backhaul >= M r0, minimum power. All
        # constraints are linear; each family g >= 0 also gets an elastic copy g + t >= 0 whose slack t
        # is charged with weight w_f (0 = family dropped) for the infeasibility diagnosis.
        g = 2**rate_min - 1
        need = m * rate_min
        p1 = dict(soft)
        p1_hard = list(hard)
        self.keep_need = cp.Parameter(nonneg=True, value=1.0)  # 0 when (17b) is dropped: rates may be 0
        qos_eq = []
        if g > 0:
            p1["qos (17b)"] = [s / g - i1]
            p1_hard.append(s / g - i1 <= 0)
            qos_eq = [s / g - i1 == 0]
        if backhaul is not None and backhaul[0] == "joint":
            p1["backhaul (17c)"] = [backhaul[1] / (2**need - 1) - self.keep_need * (backhaul[2] + 1)] if need > 0 else []
        elif backhaul is not None and rate_scale * need > backhaul[1] + 1e-12:
            p1["backhaul (17c)"] = [cp.Constant(backhaul[1] - rate_scale * need) - 0 * power]
        self.p1_families = p1
        self.power = power
        self.hard_p1 = cp.Problem(cp.Minimize(power), hard + qos_eq + [gg >= 0 for k, v in p1.items() if k != "qos (17b)"
                                                                        for gg in v])
        self.weights = {k: cp.Parameter(nonneg=True, value=1.0) for k in p1}
        slacks = {k: [cp.Variable(gg.shape, nonneg=True) for gg in v] for k, v in p1.items()}
        viol = sum(self.weights[k] * sum(cp.sum(t) for t in slacks[k]) for k in p1 if slacks[k])
        self.elastic = cp.Problem(cp.Minimize(viol), p1_hard + [gg + t >= 0 for k in p1 for gg, t in zip(p1[k], slacks[k])]
                                  + [power <= 10.0])  # keeps a dropped power family bounded
        self.elastic_slacks = slacks

    def phase1(self, solver: str, *, strict: bool = False) -> str:
        """'feasible' (variables hold the minimum-power phase-1 point) or 'infeasible'. When the phase-1
        SDP is not solved to 'optimal' (near the feasibility boundary minimum power is ill-conditioned:
        Clarabel stops with a numerical error instead of an infeasibility certificate, or even reports an
        'optimal' point that the elastic programme shows to violate a budget), the elastic programme
        decides. ``strict`` (the bisections): the elastic programme alone decides, solved by Clarabel alone
        (an inaccurate value of ~0 from the SCS fall-back is no evidence)."""
        for k in self.weights:
            self.weights[k].value = 1.0
        self.keep_need.value = 1.0
        if strict:  # the elastic programme is always feasible: no infeasibility detection to fail
            return "feasible" if self._elastic_ok(solver, strict=True) else "infeasible"
        if _solve(self.hard_p1, solver, fallback=False, kkt=self.kkt) == "optimal":
            return "feasible"
        return "feasible" if self._elastic_ok(solver) else "infeasible"

    def set_csi_error(self, eps: float) -> None:
        """All four CSI radii to ``eps`` (a model built with eps_param=True)."""
        if self.csi_params is None:
            raise ValueError("the model was not built with eps_param=True")
        for k in self.csi_params[0]:
            self.csi_params[0][k].value = float(eps)
            self.csi_params[1][k].value = float(eps) ** 2

    def _elastic_ok(self, solver: str, *, strict: bool = False) -> bool:
        """Elastic phase 1 reaches zero violation (<= 1e-6; ``strict``: solved by Clarabel alone and <=
        STRICT_VIOLATION, the normalised violation the bisections accept; an interior-point solve leaves
        ~1e-7..1e-5 on a feasible problem)."""
        if strict:
            return self.elastic_violation(solver) <= STRICT_VIOLATION
        st = _solve(self.elastic, solver, kkt=self.kkt)
        if st not in _OK:
            raise RuntimeError(f"elastic phase-1 SDP failed ({st})")
        return float(self.elastic.value) <= 1e-6

    def phase1_violation(self, solver: str) -> float:
        """Feasibility measure of phase 1 for the bisections (normalised units, ~0 when feasible): the
        largest constraint violation of the minimum-power phase-1 point when Clarabel returns one and it
        checks out (Clarabel can report 'optimal' for a point that misses a budget by a third), else the
        elastic violation (:meth:`elastic_violation`, which over-estimates when inaccurate)."""
        import cvxpy as cp

        self.keep_need.value = 1.0
        for kw in ({"direct_solve_method": "faer" if self.kkt == "faer" else "qdldl"},):
            try:
                self.hard_p1.solve(solver=solver, warm_start=False, **(kw if solver == "CLARABEL" else {}))
            except cp.error.SolverError:
                break
            if self.hard_p1.status in _OK:
                v = max((float(np.max(c.violation())) for c in self.hard_p1.constraints), default=0.0)
                if v <= STRICT_VIOLATION:
                    return v
        return self.elastic_violation(solver)

    def elastic_violation(self, solver: str) -> float:
        """Elastic phase-1 violation from the first of Clarabel's KKT variants (_solve's order) that solves
        (to 'optimal' or 'optimal_inaccurate': a stop of the latter is a feasible point of the elastic
        programme, so its value over-estimates the violation). inf if none solves. Near the boundary the
        value is noisy (~1e-2 either way, whatever the variant). Every family counts (weights 1)."""
        import cvxpy as cp

        for k in self.weights:
            self.weights[k].value = 1.0
        self.keep_need.value = 1.0
        if solver != "CLARABEL":
            st = _solve(self.elastic, solver, fallback=False)
            return float(self.elastic.value) if st in _OK else math.inf
        kws = [{"direct_solve_method": "qdldl"}, {}, {"static_regularization_constant": 1e-7}]
        if self.kkt == "faer":
            kws = kws[1:2] + kws[:1] + kws[2:]
        for kw in kws:
            try:
                self.elastic.solve(solver="CLARABEL", warm_start=False, **kw)
            except cp.error.SolverError:
                continue
            if self.elastic.status in _OK:
                return float(self.elastic.value)
        return math.inf

    def set_sensing_scale(self, scale: float) -> None:
        """Gamma_t = scale * p.gamma_w[t] (a model built with gamma_param=True)."""
        if self.gamma_scale is None:
            raise ValueError("the model was not built with gamma_param=True")
        self.gamma_scale.value = float(scale)

    def diagnose(self, solver: str) -> list[str]:
        """Families whose removal alone makes the elastic phase 1 reach zero violation."""
        out = []
        for name in [k for k, v in self.p1_families.items() if v]:
            for k in self.weights:
                self.weights[k].value = 0.0 if k == name else 1.0
            self.keep_need.value = 0.0 if name == "qos (17b)" else 1.0
            if self._elastic_ok(solver):
                out.append(name)
        return out

    def point(self) -> tuple[np.ndarray, np.ndarray, float, float]:
        s = np.maximum(np.asarray(self.S.value, float).reshape(self.m), 0.0)
        i = np.maximum(np.asarray(self.I.value, float).reshape(self.m), 0.0)
        ss = ds = 0.0
        if self.backhaul is not None and self.backhaul[0] == "joint":
            ss = max(float(np.asarray(self.backhaul[1].value)), 0.0)
            ds = max(float(np.asarray(self.backhaul[2].value)), 0.0)
        return s, i, ss, ds

    def true_objective(self) -> float:
        s, i, _, _ = self.point()
        return float(self.scale * np.sum(np.log2(1 + s / (i + 1))))

    def _linearise(self) -> None:
        s, i, ss, ds = self.point()
        z, i1 = s + i + 1, i + 1
        pv = {"iz": 1 / z, "lz": np.log(z), "ii": 1 / i1, "li": np.log(i1),
              "izs": 1 / (ss + ds + 1), "lzs": math.log(ss + ds + 1), "ids": 1 / (ds + 1), "lds": math.log(ds + 1)}
        for k, v in pv.items():
            self.par[k].value = v

    def start_from(self, values: Sequence[np.ndarray], tol: float = 1e-7) -> bool:
        """Load a warm start (variable values of another solve of the same model, e.g. at a higher sensing
        threshold) if it satisfies every constraint that does not involve the CCP tangents (all but the
        backhaul, whose exact form holds at any lifted-feasible point) to ``tol``; True if loaded."""
        for var, val in zip(self.variables, values):
            var.save_value(val)
        cons = list(self.hard) + [c for k, cs in self.families.items() if k != "backhaul (17c)" for c in cs]
        viol = max((float(np.max(c.violation())) for c in cons), default=0.0)
        return viol <= tol

    def run(self, opts: SolverOptions, trace: Trace, infeasible_fix: str, *, diagnose: bool = True,
            start: Sequence[np.ndarray] | None = None) -> None:
        """Algorithm 1 / 2: phase 1 (or the warm ``start``, see start_from, when it is feasible), then the
        CCP iterations."""
        t0 = time.perf_counter()
        self.warm = start is not None and self.start_from(start)
        st = "feasible" if self.warm else self.phase1(opts.solver)
        trace.phase1_s = time.perf_counter() - t0
        if st != "feasible":
            fams = self.diagnose(opts.solver) if diagnose else []
            names = ", ".join(fams) if fams else "no single family (several jointly)"
            fix = ", or ".join(_HINTS[f] for f in fams if f in _HINTS) or infeasible_fix
            raise BeamformingInfeasible(f"beamforming problem infeasible (elastic phase-1 SDP); removing any one of "
                                        f"[{names}] restores feasibility", fix, fams)
        trace.objective.append(self.true_objective())
        snap = [v.value for v in self.variables]
        self.history = [snap]  # every accepted iterate (variable values), for extraction fall-backs
        self.duals: dict | None = None
        trace.stopped = "iteration limit"
        for _ in range(opts.max_iterations):
            self._linearise()
            t1 = time.perf_counter()
            st = _solve(self.prob, opts.solver, fallback=False, kkt=self.kkt)
            trace.iteration_s.append(time.perf_counter() - t1)
            obj = self.true_objective() if st in _OK else -math.inf
            # a CCP step never lowers the objective; one that does (solver round-off) is rejected
            if st not in _OK or obj < trace.objective[-1] - 1e-7 * max(1.0, abs(trace.objective[-1])):
                for var, val in zip(self.variables, snap):
                    var.save_value(val)  # bypasses cvxpy's PSD check (solver round-off)
                trace.rejected += 1
                trace.stopped = (f"numerical stall at iteration {trace.iterations} (subproblem {st}"
                                 f"{'' if st not in _OK else ', objective fell'}); kept the last iterate")
                break
            trace.objective.append(obj)
            snap = [v.value for v in self.variables]
            self.history.append(snap)
            self.duals = {k: [None if c.dual_value is None else np.array(c.dual_value, float).reshape(-1) for c in cs]
                          for k, cs in self.families.items()}  # of the last accepted subproblem (nats per unit)
            if obj - trace.objective[-2] < opts.tolerance:
                trace.stopped = "converged"
                break
        trace.solver = opts.solver


class _Cov:
    """Complex Hermitian PSD n x n matrix X = T Xt T^H, Xt held as a real PSD 2n x 2n variable
    [[A, B], [B^T, D]] (T = I unless given).

    cvxpy's own complex->real reduction left Clarabel at 'inaccurate' / NumericalError on these
    problems; the real form is exact: with z = [Re c; Im c], J z <-> j c, the forms
    z^T Xr z + (J z)^T Xr (J z) equal c^H Xt c for Xt = (A + D) + j (B^T - B), which is PSD, and
    Tr Xt = Tr Xr, so the block structure need not be imposed. The congruence T (see
    :func:`_es_congruence`) rescales one direction so that a deep null towards the ES is
    resolved by the solver (an ES gain of ~1e6 noise units otherwise swamps its tolerances)."""

    def __init__(self, n: int, t: np.ndarray | None = None) -> None:
        import cvxpy as cp

        self.n = n
        self.t = None if t is None else np.asarray(t, complex)
        self.var = cp.Variable((2 * n, 2 * n), PSD=True)

    @staticmethod
    def coeffs(rows: np.ndarray) -> np.ndarray:
        """(K, 4 n^2) coefficients of the forms row Xt row^H (c = conj(row))."""
        rows = np.atleast_2d(rows)
        z = np.concatenate([rows.real, -rows.imag], axis=1)
        n = rows.shape[1]
        jz = np.concatenate([-z[:, n:], z[:, :n]], axis=1)
        q = z[:, :, None] * z[:, None, :] + jz[:, :, None] * jz[:, None, :]
        return q.reshape(len(rows), -1)

    def q(self, rows: np.ndarray) -> Any:
        """Vector (K,) of row X row^H for rows (K, n)."""
        import cvxpy as cp

        rows = np.atleast_2d(rows)
        if self.t is not None:
            rows = rows @ self.t
        return self.coeffs(rows) @ cp.vec(self.var, order="C")

    def trace(self) -> Any:
        import cvxpy as cp

        if self.t is None:
            return cp.trace(self.var)
        return self.coeffs(self.t).sum(0) @ cp.vec(self.var, order="C")  # Tr X = sum_i T[i] Xt T[i]^H

    def xc(self, row: np.ndarray) -> Any:
        """[Re; Im] (2n,) of X c, c = conj(row), as a linear map of the variable (built by evaluating
        the map on the 4 n^2 basis matrices)."""
        import cvxpy as cp

        n, n2 = self.n, 2 * self.n
        tt = np.eye(n) if self.t is None else self.t
        u = tt.conj().T @ row.conj()
        basis = np.eye(n2 * n2).reshape(n2 * n2, n2, n2)
        r = basis[:, :n, :n] + basis[:, n:, n:]
        i = np.transpose(basis[:, :n, n:], (0, 2, 1)) - basis[:, :n, n:]
        xu = (r + 1j * i) @ u  # (4n^2, n)
        y = xu @ tt.T  # rows: T (Xt u)
        k = np.concatenate([y.real, y.imag], axis=1).T  # (2n, 4n^2)
        return k @ cp.vec(self.var, order="C")

    def re_im_raw(self) -> tuple[Any, Any]:
        """(Re, Im) of Xt (before the congruence)."""
        n = self.n
        a, b, d = self.var[:n, :n], self.var[:n, n:], self.var[n:, n:]
        return a + d, b.T - b

    def re_im(self) -> tuple[Any, Any]:
        n = self.n
        a, b, d = self.var[:n, :n], self.var[:n, n:], self.var[n:, n:]
        r, i = a + d, b.T - b
        if self.t is None:
            return r, i
        tr, ti = self.t.real, self.t.imag
        p_re, p_im = tr @ r - ti @ i, tr @ i + ti @ r  # T Xt
        return p_re @ tr.T + p_im @ ti.T, p_im @ tr.T - p_re @ ti.T  # (T Xt) T^H

    @property
    def value(self) -> np.ndarray:
        v = np.asarray(self.var.value, float)
        n = self.n
        xt = (v[:n, :n] + v[n:, n:]) + 1j * (v[:n, n:].T - v[:n, n:])
        return xt if self.t is None else self.t @ xt @ self.t.conj().T


def _es_congruence(row: np.ndarray) -> np.ndarray:
    """T = I - (1 - k) u u^H with u the unit ES direction (c = conj(row)) and k = 1/||row||, so that
    row T Xt T^H row^H = Xt's u-component: the ES form gets coefficient 1 instead of ||row||^2."""
    c = row.conj()
    nrm = float(np.linalg.norm(c))
    if nrm <= 1.0:
        return np.eye(c.size, dtype=complex)
    u = c / nrm
    return np.eye(c.size) - (1 - 1 / nrm) * np.outer(u, u.conj())


def _qsum(covs: Sequence[_Cov], rows: np.ndarray) -> Any:
    return sum(c.q(rows) for c in covs)


def _re_im_sum(covs: Sequence[_Cov]) -> tuple[Any, Any]:
    parts = [c.re_im() for c in covs]
    return sum(p[0] for p in parts), sum(p[1] for p in parts)


def _real_lmi(re: Any, im: Any) -> Any:
    """Hermitian M = re + j im >= 0 as the real [[re, -im], [im, re]] >= 0."""
    import cvxpy as cp

    return cp.bmat([[re, -im], [im, re]]) >> 0


def _herm_var(parts: Sequence[tuple[Any, Any]], cons: list) -> tuple[Any, Any]:
    """New compact variables (Re, Im) equal to the sum of the given (Re, Im) parts (appends the equalities):
    Re symmetric (n(n+1)/2 unknowns), Im skew (n(n-1)/2 unknowns), i.e. exactly the n^2 real degrees of
    freedom of a Hermitian matrix. An LMI written in these copies couples only them, so eliminating its
    dense cone block in the interior-point KKT system fills an n^2 x n^2 block instead of one over every
    entry of the 2n x 2n real PSD variables behind the parts (the S-procedure's cost, see solve_pa2)."""
    import cvxpy as cp

    n = parts[0][0].shape[0]
    zr = cp.Variable((n, n), symmetric=True)
    iu = np.triu_indices(n, 1)
    k = iu[0].size
    if k:
        basis = np.zeros((n * n, k))
        basis[iu[0] * n + iu[1], np.arange(k)] = 1.0
        basis[iu[1] * n + iu[0], np.arange(k)] = -1.0
        zi = cp.reshape(basis @ cp.Variable(k), (n, n), order="C")
    else:
        zi = cp.Constant(np.zeros((n, n)))
    cons += [zr == sum(p[0] for p in parts), zi == sum(p[1] for p in parts)]
    return zr, zi


def _lmi(r: Any, i: Any, row: np.ndarray, slack: Any, delta: float, lower: bool) -> list:
    """S-procedure for a norm ball ||e|| <= delta around c = conj(row), X = r + j i Hermitian:

    lower: slack <= min (c+e)^H X (c+e)  <=>  [[X + l I, X c], [c^H X, c^H X c - slack - l d^2]] >= 0 (64), (74)
    upper: slack >= max (c+e)^H X (c+e)  <=>  [[m I - X, -X c], [-c^H X, slack - c^H X c - m d^2]] >= 0 (66)-(68)
    """
    import cvxpy as cp

    # congruence diag(I, 1/||c||): c -> unit c, slack -> slack / ||c||^2, delta -> delta / ||c|| (same LMI,
    # entries of one scale; with ||c||^2 ~ 1e6 for the ES the unscaled LMI stalls Clarabel)
    nrm = float(np.linalg.norm(row))
    if nrm == 0.0:  # no traced channel: c = 0, e^H X e lies in [0, delta^2 Tr X]
        return [slack <= 0] if lower else [slack >= delta**2 * cp.trace(r)]
    row, delta, slack = row / nrm, delta / nrm, slack / nrm**2
    a, b = row.real.copy(), -row.imag.copy()  # c = a + j b
    qv = a @ r @ a + b @ r @ b + 2 * (b @ i @ a)  # c^H X c for X = r + j i (i skew)
    if delta <= 0:
        return [slack <= qv] if lower else [slack >= qv]
    n = row.size
    xc_re = cp.reshape(r @ a - i @ b, (n, 1), order="C")
    xc_im = cp.reshape(r @ b + i @ a, (n, 1), order="C")
    mult = cp.Variable(nonneg=True)
    eye = np.eye(n)
    if lower:
        corner = cp.reshape(qv - slack - mult * delta**2, (1, 1), order="C")
        re = cp.bmat([[r + mult * eye, xc_re], [xc_re.T, corner]])
        im = cp.bmat([[i, xc_im], [-xc_im.T, np.zeros((1, 1))]])
    else:
        corner = cp.reshape(slack - qv - mult * delta**2, (1, 1), order="C")
        re = cp.bmat([[mult * eye - r, -xc_re], [-xc_re.T, corner]])
        im = cp.bmat([[-i, -xc_im], [xc_im.T, np.zeros((1, 1))]])
    return [_real_lmi(re, im)]


def _cs_bound(covs: Sequence[_Cov], row: np.ndarray, slack: Any, delta: Any, lower: bool, delta_sq: Any = None) -> list:
    """Cauchy-Schwarz bounds of (60)-(65) for ||e|| <= delta, X = sum(covs) >= 0, c = conj(row):

    lower: (c+e)^H X (c+e) >= c^H X c - 2 delta ||X c||                    (e^H X e >= 0 dropped)
    upper: (c+e)^H X (c+e) <= c^H X c + 2 delta ||X c|| + delta^2 Tr X      (the paper drops the
    delta^2 term; kept here so that the bound is valid). Second-order cones, scaled by 1/||c||^2
    (row -> unit row), in each covariance's own (congruence) coordinates. ``delta`` may be a
    nonnegative cvxpy parameter expression, with ``delta_sq`` its square (DPP: one compilation for
    every radius, see max_feasible_csi_error)."""
    import cvxpy as cp

    if delta_sq is None:
        delta_sq = delta**2
    if not covs:  # X = 0 (no other user's beam, e.g. a one-user problem): the quadratic form is 0
        return [slack <= 0] if lower else [slack >= 0]
    nrm = float(np.linalg.norm(row))
    if nrm == 0.0:  # no traced channel: c = 0, e^H X e lies in [0, delta^2 Tr X]
        return [slack <= 0] if lower else [slack >= delta_sq * sum(c.trace() for c in covs)]
    row, delta, delta_sq, slack = row / nrm, delta / nrm, delta_sq / nrm**2, slack / nrm**2
    qv = _qsum(covs, row[None, :])[0]
    if isinstance(delta, float) and delta <= 0:
        return [slack <= qv] if lower else [slack >= qv]
    xc = sum(c.xc(row) for c in covs)
    if lower:
        return [slack <= qv - 2 * delta * cp.norm(xc, 2)]
    return [slack >= qv + 2 * delta * cp.norm(xc, 2) + delta_sq * sum(c.trace() for c in covs)]


ROBUST_BOUNDS = ("cauchy-schwarz", "s-procedure")


def _scaled(p: BeamformingProblem) -> dict:
    """Noise-normalised rows with the power budgets folded in (variables have unit trace budgets)."""
    sp, sb = math.sqrt(p.p_sat_w), math.sqrt(p.p_bs_w)
    nu = np.sqrt(p.noise_ue_w)[:, None]
    ne = math.sqrt(p.noise_es_w)
    gam = np.maximum(p.gamma_w, 1e-300)[:, None]
    return {"h": p.h_ue * sb / nu, "g": p.g_ue * sp / nu, "gs": p.g_es * sp / ne, "hs": p.h_es * sb / ne,
                "a_sat": p.a_sat * sp / np.sqrt(gam), "a_bs": p.a_bs * sb / np.sqrt(gam)}


def _radius(p: BeamformingProblem, eps: float, row: np.ndarray) -> float:
    """Error radius of (44)-(47) on a noise-normalised row of :func:`_scaled` (``with_csi_error``'s readings)."""
    return eps * float(np.linalg.norm(row)) if p.err_reading == "relative" else float(eps)


def _covs(n: int, count: int) -> list:
    return [_Cov(n) for _ in range(count)]


def _sensing(pattern: Any, p: BeamformingProblem, scale: Any = None) -> list:
    """(29) normalised by Gamma: EIRP / Gamma - 1 >= 0 per target with Gamma > 0 (``scale``: a parameter
    s with Gamma_t = s p.gamma_w[t], written EIRP / p.gamma_w - s >= 0)."""
    idx = np.flatnonzero(p.gamma_w > 0)
    if not idx.size:
        return []
    return [pattern[idx] - 1] if scale is None else [pattern[idx] - scale]
