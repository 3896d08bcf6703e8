"""Max-sum-rate BS/LEO association of Nguyen-Kha, Ha, Lagunas, Chatzinotas, Grotz, "Seamless 5G Automotive
Connectivity with Integrated Satellite Terrestrial Networks in C-Band", arXiv 2408.15394 (Sections II-B to IV-B;
the equations, lost from the text we have, are reconstructed in docs/link_selection.md).

Per slot t (problem (12) decouples over slots: nothing couples them), binary x[k, b] (UE k on BS
cell b) and y[k, s] (UE k on satellite s):

    (2) sum_b x[k, b] <= 1      (4) sum_s y[k, s] <= 1       (6) sum_b x + sum_s y >= 1
    (3) sum_k x[k, b] + N_o^B[b] <= N_max^B   (5) sum_k y[k, s] + N_o^S[s] <= N_max^S

Uniform power split: p_B[b] = P_B / D[b], D[b] = sum_k x[k, b] + N_o^B[b] (same for
satellites with E[s]). Rates (7)-(11):

    gamma_B[k, b] = p_B[b] h[k, b] / (I_S[k] + N),   gamma_S[k, s] = p_S[s] g[k, s] / (I_B[k] + N)
    R[k] = sum_b x log2(1 + gamma_B) + sum_s y log2(1 + gamma_S)

The cross-network interference is a switch: ``per_user`` (the paper's model, eqs. (7), (9): the
interferer's per-user power) I_S[k] = sum_s p_S[s] g[k, s], so one network's rates depend on the other's
loads; ``full_power`` I_S[k] = sum_s P_S g[k, s] (a transmitter always radiates its full power), which
decouples the networks (then the load-level MILP is exact). Every algorithm's answer is scored by
:func:`evaluate`. Algorithms: exact (:func:`solve_exact`: a MILP under full power, a MINLP with SCIP under
per_user), the paper's SCA (:func:`solve_sca`, Algorithm 1 with Proposition 1, reconstructed), a
time-share minorise-maximise scheme of this project (:func:`solve_time_share`, full power), greedy
(:func:`solve_greedy`, Algorithm 2 reconstructed) and greedy + local search (:func:`solve_heuristic`).

Modules (everything public is importable from this package): :mod:`.problem` (SlotProblem, evaluate),
:mod:`.exact` (MILP under full power, SCIP under per_user), :mod:`.sca` (the paper's Algorithm 1),
:mod:`.time_share` (this project's minorise-maximise scheme), :mod:`.greedy` (Algorithm 2),
:mod:`.heuristic` (greedy + local search).
"""

from __future__ import annotations

from pipeline.solvers.link_selection.exact import (  # noqa: F401
    PER_USER_LINK_RATE_FLOOR,
    ExactSolution,
    FullPowerMilp,
    brute_force,
    solve_exact,
    solve_exact_per_user,
)
from pipeline.solvers.link_selection.greedy import (  # noqa: F401
    solve_greedy,
)
from pipeline.solvers.link_selection.heuristic import (  # noqa: F401
    local_search,
    local_search_full_power,
    solve_heuristic,
)
from pipeline.solvers.link_selection.problem import (  # noqa: F401
    INTERFERENCE_MODELS,
    Evaluation,
    InfeasibleError,
    SlotProblem,
    evaluate,
    random_instance,
)
from pipeline.solvers.link_selection.sca import (  # noqa: F401
    paper_relaxed_sum_rate,
    paper_sca_minorant,
    solve_sca,
)
from pipeline.solvers.link_selection.time_share import (  # noqa: F401
    ScaTrace,
    TimeShareModel,
    _relaxed_sum_rate,
    maximise_minorants,
    repair,
    round_association,
    solve_time_share,
)
