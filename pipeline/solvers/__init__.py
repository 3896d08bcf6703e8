"""Solvers of the seed papers: link selection (seed 003); coverage and beamforming to come."""
