"""Locate a libLLVM that Dr.Jit can use and import Sionna RT safely.

Dr.Jit (the JIT behind Mitsuba / Sionna RT) needs libLLVM >= 16 for its CPU backend:
Debian's LLVM 14/15 abort with ``LLVM ERROR: Cannot select ... fminimum`` (README,
"Requirements notes"). The path must be in ``DRJIT_LIBLLVM_PATH`` before
Dr.Jit is first imported, so :func:`configure_llvm` runs when :mod:`pipeline` is imported.
"""

from __future__ import annotations

import glob
import os
import re
from pathlib import Path
from types import ModuleType

from pipeline.errors import StinError

# Mitsuba variant to run Sionna RT on (llvm_ad_mono_polarized on the CPU, cuda_ad_mono_polarized on a GPU).
# Chosen by params.yaml's raytracing.variant (auto | llvm | cuda; resolved by select_variant and passed on
# to workers in this environment variable); the variable, when a user sets it, wins.
RT_VARIANT_ENV = "STIN_RT_VARIANT"
VARIANT_CHOICES = {"llvm": "llvm_ad_mono_polarized", "cuda": "cuda_ad_mono_polarized"}  # + "auto"
LLVM_MIN_MAJOR = 16  # measured: libLLVM 14/15 abort inside Dr.Jit 1.5
_LLVM_GLOBS = (
    "/usr/lib/*/libLLVM-*.so*",
    "/usr/lib/libLLVM-*.so*",
    "/usr/lib/llvm-*/lib/libLLVM*.so*",
    "/usr/local/lib/libLLVM*.so*",
    "/opt/homebrew/opt/llvm/lib/libLLVM*.dylib",
    "/usr/local/opt/llvm/lib/libLLVM*.dylib",
)
_VERSION_RE = re.compile(r"(?:libLLVM-|llvm-)(\d+)")


def llvm_major_version(path: str | os.PathLike) -> int | None:
    """Major version encoded in a libLLVM file or folder name, or None."""
    matches = _VERSION_RE.findall(str(path))
    return int(matches[-1]) if matches else None


def find_libllvm(min_major: int = LLVM_MIN_MAJOR) -> Path | None:
    """Newest libLLVM shared library with major version >= ``min_major``."""
    candidates: list[tuple[int, Path]] = []
    for pattern in _LLVM_GLOBS:
        for name in glob.glob(pattern):
            major = llvm_major_version(name)
            if major is not None and major >= min_major and os.path.isfile(name):
                candidates.append((major, Path(name)))
    if not candidates:
        return None
    # highest version first; among equals the shortest (least suffixed) name
    candidates.sort(key=lambda c: (-c[0], len(str(c[1]))))
    return candidates[0][1]


def configure_llvm() -> Path | None:
    """Point ``DRJIT_LIBLLVM_PATH`` at a usable libLLVM unless the user already set it."""
    preset = os.environ.get("DRJIT_LIBLLVM_PATH")
    if preset and os.path.isfile(preset):
        return Path(preset)
    found = find_libllvm()
    if found is not None:
        os.environ["DRJIT_LIBLLVM_PATH"] = str(found)
    return found


def cuda_available() -> bool:
    """Whether Dr.Jit can run its CUDA backend here (a GPU and its driver)."""
    configure_llvm()
    import drjit as dr  # noqa: PLC0415

    return bool(dr.has_backend(dr.JitBackend.CUDA))


def resolve_variant(choice: str) -> str:
    """The Mitsuba variant for ``raytracing.variant``: ``llvm`` (CPU), ``cuda`` (GPU) or ``auto`` (CUDA when
    Dr.Jit finds a GPU, else LLVM: Sionna RT's own default)."""
    if choice == "auto":
        return VARIANT_CHOICES["cuda" if cuda_available() else "llvm"]
    if choice not in VARIANT_CHOICES:
        raise StinError(f"raytracing.variant is {choice!r}", "use auto, llvm or cuda")
    if choice == "cuda" and not cuda_available():
        raise StinError("raytracing.variant is cuda but Dr.Jit finds no CUDA device here",
                        "set raytracing.variant: auto (or llvm) in params.yaml, or run on a machine with an NVIDIA GPU")
    return VARIANT_CHOICES[choice]


def select_variant(choice: str) -> tuple[str, str]:
    """Set the variant every later :func:`import_sionna_rt` (here and in workers started from here) uses:
    (variant, where it came from). A variant already in ``STIN_RT_VARIANT`` wins over ``choice``."""
    preset = os.environ.get(RT_VARIANT_ENV)
    if preset:
        return preset, f"environment variable {RT_VARIANT_ENV}"
    variant = resolve_variant(choice)
    os.environ[RT_VARIANT_ENV] = variant
    return variant, f"raytracing.variant: {choice}"


def import_sionna_rt() -> ModuleType:
    """Import ``sionna.rt`` after making sure Dr.Jit will find libLLVM >= 16."""
    if configure_llvm() is None:
        raise StinError(
            f"no libLLVM >= {LLVM_MIN_MAJOR} found (Dr.Jit, used by Sionna RT, needs it)",
            "install it with 'apt-get install libllvm19' (or run 'make setup'), "
            "or set DRJIT_LIBLLVM_PATH to a libLLVM.so of version 16 or newer",
        )
    variant = os.environ.get(RT_VARIANT_ENV)
    if variant:
        import mitsuba as mi  # noqa: PLC0415

        if mi.variant() is None:
            if variant not in mi.variants():
                raise StinError(f"{RT_VARIANT_ENV}={variant} is not a Mitsuba variant",
                                f"use one of {', '.join(v for v in mi.variants() if 'mono_polarized' in v)}")
            mi.set_variant(variant)
    import sionna.rt as rt  # noqa: PLC0415  (deliberately late: needs the env var)

    return rt
