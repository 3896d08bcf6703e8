"""Physical and numerical constants shared by the stochastic-geometry modules."""

EARTH_RADIUS_M = 6371e3  # TR 38.811 mean Earth radius
M2_PER_KM2 = 1e6
VOID_CUT = 50.0  # outer integrals stop where the void probability < exp(-50) (~2e-22)
SERIES_TAIL = 1e-10  # truncation of the serving Erlang series (bounds the coverage error)
HUGE_SINR = 1e30  # thresholds above this (300 dB) have coverage 0 to machine precision
