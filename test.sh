#!/usr/bin/env bash
# Sets up and runs the full test suite (uses PostgreSQL at 127.0.0.1:5432 and Redis at
# 127.0.0.1:6379 when they are running, SQLite and a private Redis otherwise).
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh --test
exec .venv/bin/python -m pytest "$@"
