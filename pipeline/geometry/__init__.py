"""Footprints, heights, local frame, extrusion into a ray-tracing scene, segments and sites."""
