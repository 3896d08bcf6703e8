#!/usr/bin/env bash
# Make sure Debian's chromium is installed: tests/test_webmap.py loads the `stin view` page in it,
# headless (driven by playwright, which downloads no browser of its own). Only `make test` needs it.
# About a minute on the reference container (apt-get update + install, with recommends).
set -euo pipefail
if command -v chromium >/dev/null || [ -n "${STIN_CHROMIUM:-}" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "warning: chromium not found and apt-get is unavailable: the browser test of 'stin view' will be skipped;" \
       "fix: install chromium (or set STIN_CHROMIUM to a Chromium/Chrome binary)" >&2
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing Debian's chromium (for the headless browser test of 'stin view') ..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
