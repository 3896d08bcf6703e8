"""Solvers of the seed papers, importable without running the pipeline.

- ``link_selection``: seed 003 max-sum-rate BS/LEO association (exact MILP, SCA, greedy, heuristic)
- ``coverage``: empirical SC/MC coverage from ray-traced CINR, and the city calibration of seed 002's model
- ``stochastic_geometry``: seed 002 rate coverage (spherical PPPs, Theorem 1) and its Monte Carlo
- ``multiconnectivity``: seed 000 case study (MC vs SC coverage)
- ``beamforming``: seed 001 joint satellite/BS beamforming for ISAC
"""
