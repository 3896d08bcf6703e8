"""Run the whole pipeline twice from scratch in two fresh copies of the project and compare their dvc.lock.

Prints, per stage, whether every output hash is the same in both runs (DVC's own md5 of each file and
folder), and the files that differ. Identical inputs must give identical outputs at every stage, so a
no-op change reruns nothing downstream. Usage::

    .venv/bin/python scripts/check_reproducible.py [--city helsinki] [-S orbits.n_slots=4 ...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def run_once(work: Path, city: str, overrides: list[str]) -> tuple[dict, float]:
    for name in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / name, work / name)
    for name in ("maps", "routes", "pipeline", "schemas"):
        shutil.copytree(REPO / name, work / name, ignore=shutil.ignore_patterns("__pycache__"))
    params = yaml.safe_load((work / "params.yaml").read_text())
    params["city"] = city
    for item in overrides:
        dotted, value = item.split("=", 1)
        node = params
        *head, last = dotted.split(".")
        for k in head:
            node = node[k]
        node[last] = yaml.safe_load(value)
    (work / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=work, env=env, check=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "dvc", "repro"], cwd=work, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return yaml.safe_load((work / "dvc.lock").read_text())["stages"], time.perf_counter() - start


def outs(stage: dict) -> dict[str, str]:
    """path -> md5 of each output (a folder's md5 covers its files)."""
    return {o["path"]: o["md5"] for o in stage.get("outs", [])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--city", default="helsinki")
    ap.add_argument("-S", dest="overrides", action="append", default=[], help="params override key=value")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        first, t1 = run_once(Path(a), args.city, args.overrides)
        second, t2 = run_once(Path(b), args.city, args.overrides)
    print(f"city {args.city}: run 1 {t1:.0f} s, run 2 {t2:.0f} s")
    same_stages = 0
    for name in first:
        o1, o2 = outs(first[name]), outs(second[name])
        differ = sorted(p for p in o1 if o1[p] != o2.get(p))
        same_stages += not differ
        print(f"  {name:<20} {'identical' if not differ else 'DIFFERENT: ' + ', '.join(differ)}")
    print(f"{same_stages} of {len(first)} stages byte-identical; "
          f"{sum(len(outs(s)) for s in first.values())} outputs compared")
    sys.exit(0 if same_stages == len(first) else 1)


if __name__ == "__main__":
    main()
