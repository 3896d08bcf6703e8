"""Greedy association (Nguyen-Kha et al. Algorithm 2, reconstructed) that respects the capacities.
"""

from __future__ import annotations

import numpy as np

from pipeline.solvers.link_selection.problem import InfeasibleError, SlotProblem


def solve_greedy(p: SlotProblem) -> tuple[np.ndarray, np.ndarray]:
    """The paper's Algorithm 2 (its MATLAB-index text was lost; reconstruction), respecting capacities.

    Loads start at N_o; UEs are visited in descending order of their best received SNR (P h or P g, so
    the two networks' gain scales compare). Pass 1: each UE takes its strongest node (BS by
    ``sort(H(:,k,t),'descend')`` or satellite by ``sort(G(:,k,t),'descend')``) that has free capacity,
    a zero-gain node if nothing else is free. Pass 2 (dual connectivity): in the same order, each UE adds
    the strongest free node of the other network with a positive gain. So every UE gets a link whenever
    the free capacity covers the UEs (then an association exists): greedy never fails on a feasible slot.
    """
    p.check_feasible()
    k, nb, ns = p.n_ue, p.h.shape[1], p.g.shape[1]
    load = [np.asarray(p.other_bs, int).copy(), np.asarray(p.other_sat, int).copy()]
    caps = (p.cap_bs, p.cap_sat)
    assoc = [np.zeros((k, nb), bool), np.zeros((k, ns), bool)]
    snr = [p.p_bs_w * p.h, p.p_sat_w * p.g]
    best = np.maximum(snr[0].max(1, initial=0.0), snr[1].max(1, initial=0.0))
    order = np.argsort(-best, kind="stable")
    for kk in order:  # pass 1: one link each, the strongest free node of either network
        options = [(snr[net][kk, j], -net, j, net) for net in (0, 1) for j in range(assoc[net].shape[1])
                   if load[net][j] < caps[net]]
        if not options:
            raise InfeasibleError("greedy found no free node for a UE")  # unreachable after check_feasible
        _, _, j, net = max(options)
        assoc[net][kk, j] = True
        load[net][j] += 1
    for kk in order:  # pass 2: a second link in the other network while capacity remains
        net = 1 if assoc[0][kk].any() else 0
        for j in np.argsort(-snr[net][kk], kind="stable"):
            if snr[net][kk, j] <= 0:
                break
            if load[net][j] < caps[net]:
                assoc[net][kk, j] = True
                load[net][j] += 1
                break
    return assoc[0], assoc[1]
