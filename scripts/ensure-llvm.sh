#!/usr/bin/env bash
# Make sure a libLLVM >= 16 is installed: Dr.Jit (Sionna RT's JIT) aborts with
# Debian's LLVM 14/15 ("LLVM ERROR: Cannot select ... fminimum"), see README.md "Requirements notes".
set -euo pipefail
for v in 21 20 19 18 17 16; do
  if compgen -G "/usr/lib/*/libLLVM-${v}.so*" >/dev/null || compgen -G "/usr/lib/llvm-${v}/lib/libLLVM*.so*" >/dev/null; then
    exit 0
  fi
done
if ! command -v apt-get >/dev/null; then
  echo "error: no libLLVM >= 16 found and apt-get is unavailable; fix: install LLVM 16+ and set DRJIT_LIBLLVM_PATH to its libLLVM.so" >&2
  exit 1
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing Debian's libllvm19 (needed by Dr.Jit / Sionna RT) ..."
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq libllvm19 >/dev/null
