"""Joint satellite/BS beamforming for a self-backhauled satellite-terrestrial ISAC system (Wang & Wang).

T. Wang, Q. Wang, "Joint Beamforming for Integrated Satellite-Terrestrial ISAC Systems",
Sensors 26(7):2273, 2026, doi:10.3390/s26072273. A multi-beam LEO satellite (Ns feeds) sends the
backhaul symbol to an Earth station (ES) with beamformer v and a sensing waveform with covariance
V0; the ES hands the data to a BS (Nb antennas) that serves M single-antenna users with {w_m}.
All links share one band. With the lifting W_m = w_m w_m^H, V = v v^H (Section 3.2):

    R_m = log2(1 + |h_m^H w_m|^2 / (sum_{n!=m} |h_m^H w_n|^2 + g_m^H (V + V0) g_m + s_m^2))   (6)-(7)
    R_s = log2(1 + |g_s^H v|^2 / (sum_m |h_s^H w_m|^2 + g_s^H V0 g_s + s_s^2))               (4)
    max sum_m R_m  s.t.  R_m >= r0 (17b),  sum_m R_m <= R_s (17c),
        a_bs(t)^H (sum_m W_m) a_bs(t) + a_sat(t)^H V0 a_sat(t) >= Gamma_t (17d),
        ||v||^2 + Tr V0 <= Ps (17e),  sum_m ||w_m||^2 <= PT (17f),  V0 >= 0.

(17d) prints one steering vector a(theta) for sum_m W_m + V0 although W_m is Nb x Nb and V0 is
Ns x Ns; here each array uses its own steering vector and the beampattern is the EIRP [W]
radiated towards target t (eq. (1)). Channel convention: every channel is stored as a *row*
(transfer) vector, received amplitude = row @ x, so the paper's h^H is our row and
h^H W h = row W row^H. Units: complex baseband amplitude gain (linear, antennas, path loss and
fading included); |row @ x|^2 is a received power in W when |x|^2 is a transmit power in W.

Algorithm 1 (PA1, :func:`solve_pa1`) is the convex-concave procedure (36)-(40): the concave
log2(I_m + s^2) of each rate and log2(D_s) / log2(S_m + I_m + s^2) in the backhaul constraint
are replaced by their tangents (35), which keeps every iterate feasible for the lifted problem
and the lifted sum rate non-decreasing. Algorithm 2 (PA2, :func:`solve_pa2`) is the robust
version for norm-bounded CSI errors (44)-(47): the worst-case signal / interference powers are
slack variables tied to the channels by the paper's Cauchy-Schwarz bounds (60)-(65) (default,
second-order cones) or by exact S-procedure LMIs (66)-(68) (small instances), and the same
tangents (69)-(70) give a sequence of convex programmes. Ranks are restored by
:func:`extract_rank_one`. Every reported design is scored by the independent, vector-domain
:func:`evaluate`. Benchmarks of Section 5: DAS, TDMA and IBS (see :func:`solve_das`,
:func:`solve_tdma`, :func:`solve_ibs` for the definitions used; the paper gives one line each).
ISAC analyses: whether (17d) binds and its shadow price (:func:`sensing_report`), the sum rate vs
Gamma trade-off up to infeasibility (:func:`max_feasible_sensing_dbw`, :func:`sensing_tradeoff`),
Fig. 4's detection probability with a reconstructed Neyman-Pearson detector (:class:`RadarSetting`,
:func:`detection_probability`) and PA2's largest feasible CSI radius under both readings of eps
(:func:`max_feasible_csi_error`).

Numerics (Clarabel): complex PSD matrices are real 2n x 2n PSD variables (:class:`_Cov`), every
kept log is normalised by its value at the iterate, and V0 lives in congruence coordinates that
give the ES direction unit weight (the ES sees ~65 dB SNR, so its null must be resolved to 1e-6).

Paper values that are inconsistent or unrecoverable (see the constants): 20 GHz (Table 1) vs
30 GHz (text); Table 1's 250 km beam diameter and 0.4 deg angle are GEO values and are unused
(the NGEO 3.2 deg beamwidth sets the beam spacing); the quoted satellite EIRP of 36.7 dBW
contradicts Ps = 30 dBW with Gmax = 52 dBi and is unused; Gamma, the terrestrial path-loss
parameters, L, the phase-perturbation law and the normalisation of the CSI radii are not given.

Modules (one concept each; everything public is importable from this package):

- :mod:`.model`: paper constants, channel model, :class:`BeamformingProblem`, :func:`paper_problem`;
- :mod:`.evaluate`: :class:`Beamformers` and the independent evaluator :func:`evaluate`;
- :mod:`.ccp`: the lifted DC programme, tangents and robust bounds (:class:`SolverOptions`, :class:`Design`);
- :mod:`.extraction`: rank-one extraction :func:`extract_rank_one`;
- :mod:`.algorithms`: :func:`solve_pa1` (Algorithm 1), :func:`solve_pa2` (Algorithm 2), :func:`is_feasible`;
- :mod:`.baselines`: :func:`solve_tdma`, :func:`solve_ibs`, :func:`solve_das`;
- :mod:`.isac`: sensing binding, trade-off, Fig. 4 detection probability, largest feasible CSI radius;
- :mod:`.sweeps`: :data:`SCHEMES`, the one task runner (:func:`run_tasks`) and :func:`sweep` (Figs. 5-8);
- :mod:`.plots`: the figures;
- :mod:`.city`: the same problem built from the ray-traced city (imported on its own: it reads netCDF files).
"""

from __future__ import annotations

from pipeline.solvers.beamforming.algorithms import (  # noqa: F401
    is_feasible,
    solve_pa1,
    solve_pa2,
)
from pipeline.solvers.beamforming.baselines import (  # noqa: F401
    solve_das,
    solve_ibs,
    solve_tdma,
)
from pipeline.solvers.beamforming.ccp import (  # noqa: F401
    ROBUST_BOUNDS,
    STRICT_VIOLATION,
    Design,
    SolverOptions,
    Trace,
)
from pipeline.solvers.beamforming.evaluate import (  # noqa: F401
    Beamformers,
    Evaluation,
    Tolerances,
    evaluate,
)
from pipeline.solvers.beamforming.extraction import (  # noqa: F401
    extract_rank_one,
)
from pipeline.solvers.beamforming.isac import (  # noqa: F401
    BINDING_DUAL_MIN,
    BINDING_SLACK_DB,
    DETECTION_MODELS,
    ISAC_ANALYSES,
    RadarSetting,
    bisect_feasible,
    bs_sensing_limit_w,
    detection_curve,
    detection_data,
    detection_probability,
    echo_snr_per_w,
    isac_analysis,
    max_feasible_csi_error,
    max_feasible_sensing_dbw,
    sensing_report,
    sensing_tradeoff,
    tradeoff_gammas_dbw,
    with_sensing_dbw,
)
from pipeline.solvers.beamforming.model import (  # noqa: F401
    ALTITUDE_M,
    AREA_M,
    BANDWIDTH_HZ,
    BEAM_3DB_DEG,
    BS_ELEMENT_GAIN_DBI,
    BS_XY_M,
    CSI_ERROR,
    CSI_READINGS,
    ES_GAIN_DBI,
    ES_SIDELOBE_DBI,
    ES_XY_M,
    FREQ_HZ,
    GAS_ZENITH_DB,
    MAX_ITERATIONS,
    MIN_UE_DISTANCE_M,
    N_BEAMS,
    N_PATHS,
    N_USERS,
    NOISE_DBM,
    P_BS_DBW,
    P_SAT_DBW,
    PHASE_MAX_RAD,
    PL_EXPONENT,
    RAIN_MU_DB,
    RAIN_SIGMA_DB,
    S1528_LF_DBI,
    S1528_LS_DB,
    SAT_GAIN_MAX_DBI,
    SENSING_EIRP_DBW,
    SHADOW_SIGMA_DB,
    SINR_MIN_DB,
    SUB_SATELLITE_OFFSET_M,
    TARGET_OFFSETS_ABS,
    TOLERANCE,
    UE_GAIN_DBI,
    BeamformingInfeasible,
    BeamformingProblem,
    PaperSetting,
    cluster_frame,
    hex_beam_boresights,
    paper_problem,
    problem_from_channels,
    s1528_gain_dbi,
    upa_steering,
)
from pipeline.solvers.beamforming.plots import (  # noqa: F401
    beampattern_data,
    plot_beampattern,
    plot_city_schemes,
    plot_convergence,
    plot_detection_probability,
    plot_sensing_tradeoff,
    plot_sweep,
)
from pipeline.solvers.beamforming.sweeps import (  # noqa: F401
    SCHEMES,
    SWEEPS,
    SweepResult,
    Task,
    design_summary,
    paper_sweep_tasks,
    run_task,
    run_tasks,
    setting_for,
    sweep,
    sweep_result,
    waived_checks,
)
