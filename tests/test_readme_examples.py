"""The README's framework examples run as written, here on a small synthetic channels file (the slow
pipeline test runs them on the embedded city's real one)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO, readme_example
from test_channel_adapters import synthetic_channels

NEEDS = {"torch": ("torch",), "sionna": ("torch", "sionna.phy"), "deepmimo": ("deepmimo",)}
EXPECT = {"torch": "samples; a (8,", "sionna": "OFDM channel (4,", "deepmimo": "cars, paths from satellite rank 0"}


@pytest.mark.parametrize("name", sorted(NEEDS))
def test_readme_framework_example(name, tmp_path):
    for module in NEEDS[name]:
        pytest.importorskip(module)
    (tmp_path / "data" / "helsinki").mkdir(parents=True)
    synthetic_channels(tmp_path / "data" / "helsinki" / "channels.nc")
    env = dict(os.environ, PYTHONPATH=f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}")
    out = subprocess.run([sys.executable, "-c", readme_example(name)], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert EXPECT[name] in out.stdout, out.stdout
