"""LEO constellations over a time window: Walker-delta shells or TLEs, look angles from the map."""
