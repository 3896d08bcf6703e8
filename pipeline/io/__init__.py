"""Stable file formats: atomic writes, metrics and timings, and the channel loader.

Researchers: ``from pipeline.io import load_channels, link_gains, channel_vectors, path_coefficients``.
"""

from pipeline.io.channels import as_tensor, channel_vectors, link_gains, load_channels, path_coefficients
from pipeline.io.pathstore import SlotPaths, read_slot

__all__ = ["SlotPaths", "as_tensor", "channel_vectors", "link_gains", "load_channels", "path_coefficients",
           "read_slot"]
