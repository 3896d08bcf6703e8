"""Fault injection on the real pipeline: kill -9 at random points, then `dvc repro`; runs with no network.

Slow (each runs DVC stages in a copy of the project); CI runs them too.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import REPO

STAGES = ("buildings", "scene", "orbits", "routes", "radiomaps")  # the data stages and the radio-map tracer


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def _project(root: Path, city: str = "synth", n_slots: int = 2) -> Path:
    root.mkdir(parents=True)
    shutil.copy(REPO / "dvc.yaml", root / "dvc.yaml")
    for name in ("maps", "routes", "pipeline", "schemas"):
        shutil.copytree(REPO / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["city"] = city
    params["orbits"]["n_slots"] = n_slots  # fewer satellite maps: the same code paths, shorter
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=root, env=_env(), check=True)
    return root


def _repro(cwd: Path, *stages: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "dvc", "repro", *stages], cwd=cwd, env=_env(),
                          capture_output=True, text=True, timeout=900)


def _digests(root: Path, city: str = "synth") -> dict[str, str]:
    out = {}
    for top in ("data", "results"):
        for f in sorted((root / top / city).rglob("*")):
            if f.is_file() and f.name != "timings.json":  # wall times: the one file meant to differ
                out[str(f.relative_to(root))] = hashlib.md5(f.read_bytes()).hexdigest()
    return out


def _temporaries(root: Path) -> list[str]:
    return [str(p.relative_to(root)) for top in ("data", "results") for p in (root / top).rglob(".*")]


@pytest.mark.slow
def test_kill_9_at_random_points_then_dvc_repro_gives_the_uninterrupted_outputs(tmp_path):
    """Three kill -9 of `dvc repro` (the whole process group: DVC and the stage it runs) at seeded random
    times; a plain `dvc repro` afterwards completes, leaves no temporary behind and gives outputs
    byte-identical to an uninterrupted run."""
    reference = _project(tmp_path / "reference")
    start = time.perf_counter()
    ran = _repro(reference, *STAGES)
    full_s = time.perf_counter() - start
    assert ran.returncode == 0, ran.stderr[-3000:]
    expected = _digests(reference)
    assert any(k.endswith("radiomaps.nc") for k in expected)

    victim = _project(tmp_path / "victim")
    rng = np.random.default_rng(13)
    kills = []
    for _ in range(3):
        # early in the run: a victim run can be faster than the reference (less load on the machine), and
        # each one resumes what the previous kill left
        after_s = float(rng.uniform(0.5, 0.5 * full_s))
        proc = subprocess.Popen([sys.executable, "-m", "dvc", "repro", *STAGES], cwd=victim, env=_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(after_s)
        killed = proc.poll() is None
        if killed:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        kills.append((round(after_s, 1), killed))
    assert any(k for _, k in kills), f"no run was interrupted: {kills}"
    print(f"uninterrupted run {full_s:.0f} s; kill -9 after (s, interrupted): {kills}")
    recovered = _repro(victim, *STAGES)
    assert recovered.returncode == 0, recovered.stderr[-3000:]
    assert _temporaries(victim) == []
    assert _digests(victim) == expected, kills


def _network_namespace_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


OFFLINE = ("unshare", "-rn")  # a new network namespace (loopback only, down) as an unprivileged user


@pytest.mark.slow
@pytest.mark.skipif(not _network_namespace_works(), reason="this machine does not allow network namespaces")
def test_the_embedded_default_runs_with_no_network(tmp_path):
    """The embedded default's data stages run inside a network namespace with no interface up (tracing
    needs no network either; the closing note measured the whole pipeline this way), and an online city
    fails within seconds with one line instead of waiting on a resolver."""
    project = _project(tmp_path / "offline", city="helsinki")
    probe = subprocess.run([*OFFLINE, sys.executable, "-c",
                            "import socket; socket.create_connection(('1.1.1.1', 443), timeout=2)"],
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0  # really offline
    ran = _repro(project, "buildings", "scene", "orbits", "routes", prefix=OFFLINE)
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert (project / "data" / "helsinki" / "scene" / "scene.xml").is_file()

    online = yaml.safe_load((REPO / "maps" / "helsinki.yaml").read_text())
    online["source"] = {"type": "osm_online"}
    (project / "maps" / "online.yaml").write_text(yaml.safe_dump(online))
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["city"] = "online"
    (project / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    start = time.perf_counter()
    failed = subprocess.run([*OFFLINE, sys.executable, "-m", "pipeline.stages.buildings"], cwd=project, env=_env(),
                            capture_output=True, text=True, timeout=120)
    waited_s = time.perf_counter() - start
    assert failed.returncode == 2 and waited_s < 30, (waited_s, failed.stderr[-2000:])
    lines = [ln for ln in failed.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "network" in lines[0].lower() and "Traceback" not in failed.stderr, failed.stderr
    assert not (project / "data" / "online").exists() or not any((project / "data" / "online").iterdir())
