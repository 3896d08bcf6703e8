"""Stable file formats: atomic writes, metrics and timings, and the channel loader.

Researchers: ``from pipeline.io import load_channels, link_gains, channel_vectors``.
"""

from pipeline.io.channels import as_tensor, channel_vectors, link_gains, load_channels

__all__ = ["as_tensor", "channel_vectors", "link_gains", "load_channels"]
