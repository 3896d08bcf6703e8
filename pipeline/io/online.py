"""Online fetches fail fast: one TCP connect with a short timeout before osmnx's own requests.

Offline, osmnx would otherwise wait on DNS and its HTTP timeouts (measured: ~60 s) before failing.
"""

from __future__ import annotations

import socket
from urllib.parse import urlparse

from pipeline.errors import StinError

CONNECT_TIMEOUT_S = 5.0  # project choice: a reachable API accepts a TCP connection in well under a second


def require_network(url: str, what: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Raise one StinError line at once when ``url``'s host cannot be reached (no network, no DNS)."""
    parsed = urlparse(url)
    host = parsed.hostname or url
    port = parsed.port or (443 if parsed.scheme in ("https", "") else 80)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        raise StinError(f"no network connection to {host} for {what} ({type(exc).__name__}, {timeout_s:g} s)",
                        "connect to the internet, or use a local OSM file (map source osm_file; "
                        "stin new-city NAME --bbox S,W,N,E --osm-file FILE)") from None
