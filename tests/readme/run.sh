#!/usr/bin/env bash
# README's "Getting started", run as written against the built binary (see test_readme.py).
# Usage: tests/readme/run.sh   (OPENWELKIN_BIN: server binary, default target/debug/openwelkin)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r tests/python/requirements.txt
exec "$VENV/bin/python" -m pytest tests/readme -q -p no:cacheprovider "$@"
