#!/usr/bin/env bash
# End-to-end tests of the web console (/console/) in a real browser: Debian's chromium
# driven by Python Playwright (PyPI). The browser Playwright would download is not
# reachable here, so Debian's is used (executable_path=/usr/bin/chromium).
# Usage: tests/console/run.sh [pytest args...]
#   OPENWELKIN_BIN=...            server binary (default target/debug/openwelkin)
#   OPENWELKIN_TEST_DATABASE=...  database URL (default: a fresh sqlite file)
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
cd "$ROOT"

if [ ! -x /usr/bin/chromium ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

VENV="$HERE/.venv"
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r "$HERE/requirements.txt"

exec "$VENV/bin/python" -m pytest "$HERE" -q "$@"
