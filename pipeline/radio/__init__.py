"""Radio: antenna patterns, far-field satellite tracing, link budget and CINR."""
