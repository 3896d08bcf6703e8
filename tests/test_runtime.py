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


def test_variant_choice(monkeypatch):
    """raytracing.variant: llvm is the CPU variant; auto follows Dr.Jit's CUDA backend; cuda without a GPU
    and unknown names fail with the fix; a variant the user put in the environment wins."""
    assert runtime.resolve_variant("llvm") == "llvm_ad_mono_polarized"
    has_cuda = runtime.cuda_available()
    assert runtime.resolve_variant("auto") == ("cuda_ad_mono_polarized" if has_cuda else "llvm_ad_mono_polarized")
    with pytest.raises(StinError, match="use auto, llvm or cuda"):
        runtime.resolve_variant("gpu")
    if not has_cuda:
        with pytest.raises(StinError, match="no CUDA device"):
            runtime.resolve_variant("cuda")
    monkeypatch.setenv(runtime.RT_VARIANT_ENV, "")  # unset for the test, restored after it
    assert runtime.select_variant("llvm") == ("llvm_ad_mono_polarized", "raytracing.variant: llvm")
    assert runtime.select_variant("auto")[1].startswith("environment variable")  # the first choice stays


def test_stin_info_names_variant_and_device(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pipeline.cli import app

    monkeypatch.setenv(runtime.RT_VARIANT_ENV, "")  # unset for the test, restored after it
    params = tmp_path / "params.yaml"
    params.write_text("raytracing:\n  variant: llvm\n")
    out = CliRunner().invoke(app, ["info", "--params", str(params)])
    assert out.exit_code == 0, out.output
    assert "ray-tracing variant: llvm_ad_mono_polarized (from raytracing.variant: llvm" in out.output
    assert "device: CPU" in out.output and "LLVM 1" in out.output and "sionna-rt: 2.2.0" in out.output
    params.write_text("raytracing:\n  variant: vulkan\n")
    out = CliRunner().invoke(app, ["info", "--params", str(params)])
    assert out.exit_code == 2 and "use auto, llvm or cuda" in out.output
