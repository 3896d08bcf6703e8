"""Greedy plus local search, for instances too large for the exact methods.
"""

from __future__ import annotations

import numpy as np

from pipeline.solvers.link_selection.greedy import solve_greedy
from pipeline.solvers.link_selection.problem import SlotProblem, evaluate
from pipeline.solvers.link_selection.time_share import _sinr_full_power


def local_search(p: SlotProblem, x: np.ndarray, y: np.ndarray, max_passes: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """1-move local search: each UE tries every other BS / satellite (or dropping one of its
    two links); a move is kept when :func:`evaluate`'s sum rate rises. Never worse than its start."""
    x, y = x.copy(), y.copy()
    best = evaluate(p, x, y).sum_rate
    for _ in range(max_passes):
        improved = False
        for kk in range(p.n_ue):
            for assoc in (x, y):
                current = np.flatnonzero(assoc[kk])
                options = [None, *range(assoc.shape[1])]
                for target in options:
                    if (target is None and not current.size) or (target is not None and current.size and target == current[0]):
                        continue
                    saved = assoc[kk].copy()
                    assoc[kk] = False
                    if target is not None:
                        assoc[kk, target] = True
                    ev = evaluate(p, x, y)
                    if ev.feasible and ev.sum_rate > best + 1e-9:
                        best, improved = ev.sum_rate, True
                        current = np.flatnonzero(assoc[kk])
                    else:
                        assoc[kk] = saved
        if not improved:
            break
    return x, y


def local_search_full_power(p: SlotProblem, x: np.ndarray, y: np.ndarray, max_passes: int = 5,
                            candidates: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Incremental 1-move local search for full-power interference.

    There a node's users earn F_j(S) = sum_{i in S} log2(1 + A_ij / (|S| + N_o[j])) with
    A = P h / (I + N) fixed, so a move changes only the two nodes involved: each candidate
    move (a UE to one of its ``candidates`` strongest BS cells or to any satellite, or
    dropping one of two links) costs O(capacity), which scales to thousands of UEs.
    """
    if p.interference != "full_power":
        return local_search(p, x, y, max_passes)
    x, y = x.copy(), y.copy()
    a_b, a_s = _sinr_full_power(p)
    nets = [(x, a_b, p.cap_bs, np.asarray(p.other_bs, int)), (y, a_s, p.cap_sat, np.asarray(p.other_sat, int))]
    members = [[set(np.flatnonzero(assoc[:, j])) for j in range(assoc.shape[1])] for assoc, *_ in nets]

    def node_value(net: int, j: int, users: set) -> float:
        if not users:
            return 0.0
        _, a, _, other = nets[net]
        idx = np.fromiter(users, int)
        return float(np.log2(1 + a[idx, j] / (len(users) + other[j])).sum())

    top_b = np.argsort(-a_b, axis=1)[:, :candidates]
    for _ in range(max_passes):
        improved = False
        for k in range(p.n_ue):
            for net, (assoc, a, cap, other) in enumerate(nets):
                cur = np.flatnonzero(assoc[k])
                cur_j = int(cur[0]) if cur.size else None
                other_links = int(nets[1 - net][0][k].any())
                options = list(top_b[k]) if net == 0 else list(range(assoc.shape[1]))
                base_cur = node_value(net, cur_j, members[net][cur_j]) if cur_j is not None else 0.0
                loss = (node_value(net, cur_j, members[net][cur_j] - {k}) - base_cur) if cur_j is not None else 0.0
                best_delta, best_target = 1e-12, "stay"
                if cur_j is not None and other_links:  # drop this link, keep the other network's
                    best_delta, best_target = max((best_delta, best_target), (loss, None), key=lambda t: t[0])
                for j in options:
                    j = int(j)
                    if j == cur_j or a[k, j] <= 0 or len(members[net][j]) + other[j] >= cap:
                        continue
                    gain = node_value(net, j, members[net][j] | {k}) - node_value(net, j, members[net][j])
                    if loss + gain > best_delta:
                        best_delta, best_target = loss + gain, j
                if best_target == "stay":
                    continue
                if cur_j is not None:
                    members[net][cur_j].discard(k)
                    assoc[k, cur_j] = False
                if best_target is not None:
                    members[net][best_target].add(k)
                    assoc[k, best_target] = True
                improved = True
        if not improved:
            break
    return x, y


def solve_heuristic(p: SlotProblem, max_passes: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Greedy followed by the incremental 1-move local search (for instances too large for the exact model)."""
    return local_search_full_power(p, *solve_greedy(p), max_passes=max_passes)
