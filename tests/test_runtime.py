"""Finding libLLVM >= 16 for Dr.Jit, and the clear error when there is none."""

from __future__ import annotations

import pytest

from pipeline import runtime
from pipeline.errors import StinError


@pytest.mark.parametrize("name, major", [
    ("/usr/lib/x86_64-linux-gnu/libLLVM-19.so", 19),
    ("/usr/lib/x86_64-linux-gnu/libLLVM-14.0.6.so.1", 14),
    ("/usr/lib/llvm-17/lib/libLLVM.so.1", 17),
    ("/usr/lib/libfoo.so", None),
])
def test_llvm_major_version(name, major):
    assert runtime.llvm_major_version(name) == major


def test_find_prefers_newest_usable(monkeypatch, tmp_path):
    files = {v: tmp_path / f"libLLVM-{v}.so" for v in (14, 15, 17, 19)}
    for f in files.values():
        f.write_bytes(b"")
    monkeypatch.setattr(runtime, "_LLVM_GLOBS", (str(tmp_path / "libLLVM-*.so"),))
    assert runtime.find_libllvm() == files[19]
    files[19].unlink()
    files[17].unlink()
    assert runtime.find_libllvm() is None  # 14 and 15 crash Dr.Jit: never picked


def test_import_sionna_without_llvm_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("DRJIT_LIBLLVM_PATH", raising=False)
    monkeypatch.setattr(runtime, "_LLVM_GLOBS", (str(tmp_path / "none-*.so"),))
    with pytest.raises(StinError) as exc:
        runtime.import_sionna_rt()
    assert "apt-get install libllvm19" in str(exc.value) and "DRJIT_LIBLLVM_PATH" in str(exc.value)


def test_package_import_configured_drjit():
    import os

    import pipeline  # noqa: F401

    path = os.environ.get("DRJIT_LIBLLVM_PATH")
    assert path and runtime.llvm_major_version(path) >= runtime.LLVM_MIN_MAJOR
