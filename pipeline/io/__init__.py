"""Stable file formats: atomic writes, metrics and timings."""
