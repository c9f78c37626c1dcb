#!/usr/bin/env bash
# Sets up and runs the whole system (panel, workers, media server, scheduler) on embedded defaults.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
exec .venv/bin/diemcau up "$@"
