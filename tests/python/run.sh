#!/usr/bin/env bash
# Black-box tests of openwelkin with the public `welkin` Python client.
# Usage: tests/python/run.sh [pytest args...]
#   OPENWELKIN_BIN=...            server binary (default target/debug/openwelkin)
#   OPENWELKIN_TEST_DATABASE=...  database URL (default: fresh sqlite file)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"

VENV="$ROOT/.venv"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check \
    -r tests/python/requirements.txt

exec "$VENV/bin/python" -m pytest tests/python -q "$@"
