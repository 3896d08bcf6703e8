"""Solvers of the four papers (docs/README.md), importable without running the pipeline.

- ``link_selection``: Nguyen-Kha et al. (arXiv 2408.15394) max-sum-rate BS/LEO association (exact, SCA, greedy,
  heuristic)
- ``coverage``: empirical SC/MC coverage from ray-traced CINR, and the city calibration of Park et al.'s model
- ``stochastic_geometry``: Park et al. (arXiv 2307.03343) rate coverage (spherical PPPs, Theorem 1) and its
  Monte Carlo
- ``multiconnectivity``: Li & Shang (arXiv 2411.04675) case study (MC vs SC coverage)
- ``beamforming``: Wang & Wang (Sensors 2026, doi 10.3390/s26072273) joint satellite/BS beamforming for ISAC
"""
