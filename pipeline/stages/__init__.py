"""Thin DVC stage entry points over library code.

Stages run from the project root (``dvc repro``): before any of them imports Sionna RT, the ray-tracing
variant that params.yaml names (``raytracing.variant``) is selected here, so the stage and the workers it
starts run it.
"""

import os
import sys

import yaml

from pipeline.errors import StinError
from pipeline.runtime import select_variant

# Quiet runs (STIN_LOG_LEVEL=WARNING, `stin -q`): tqdm and Dask read these when first imported, i.e. after this
if os.environ.get("STIN_LOG_LEVEL", "").strip().upper() in ("WARNING", "QUIET"):
    os.environ.setdefault("TQDM_DISABLE", "1")  # tqdm >= 4.66
    os.environ.setdefault("DASK_DISTRIBUTED__LOGGING__DISTRIBUTED", "warning")  # scheduler and worker chatter

if os.path.isfile("params.yaml"):
    try:
        with open("params.yaml") as _f:
            _choice = (((yaml.safe_load(_f) or {}).get("raytracing") or {}).get("variant", "auto"))
    except (OSError, yaml.YAMLError, AttributeError):
        _choice = "auto"  # a broken params.yaml: the stage's own parameter check reports it, line and fix
    try:
        select_variant(str(_choice))
    except StinError as _exc:
        print(f"error: {_exc}", file=sys.stderr)
        sys.exit(2)
