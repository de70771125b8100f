#!/usr/bin/env bash
# The exported Postman collection, run top to bottom with newman (npm) against
# `serve --demo` on port 0 with a fresh SQLite database: at least 90 % of its requests
# must answer 2xx (POSTMAN_MIN_2XX, percent). Prints the figure and the requests that did not.
# Usage: tests/postman/run.sh   (OPENWELKIN_BIN: server binary; needs node and npm)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
BIN="${OPENWELKIN_BIN:-$ROOT/target/debug/openwelkin}"
command -v node >/dev/null && command -v npm >/dev/null || { echo "node and npm are needed" >&2; exit 2; }

TMP="$(mktemp -d)"
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

# newman in a project-local folder, kept between runs.
NEWMAN_DIR="$ROOT/target/newman"
[ -x "$NEWMAN_DIR/node_modules/.bin/newman" ] ||
    npm install --silent --no-audit --no-fund --prefix "$NEWMAN_DIR" newman@6 >/dev/null

"$BIN" postman --out "$TMP/collection.json"
OPENWELKIN_LOG=warn "$BIN" serve --demo --listen 127.0.0.1:0 --database "sqlite://$TMP/openwelkin.db" \
    >"$TMP/server.log" 2>&1 </dev/null &
SERVER_PID=$!
BASE=""
for _ in $(seq 1 150); do
    BASE="$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$TMP/server.log" | sed 's/\x1b\[[0-9;]*m//g' | head -1)"
    [ -n "$BASE" ] && break
    sleep 0.2
done
[ -n "$BASE" ] || { echo "the server did not start:"; cat "$TMP/server.log"; exit 1; }

"$NEWMAN_DIR/node_modules/.bin/newman" run "$TMP/collection.json" --env-var "baseUrl=$BASE" \
    --global-var "baseUrl=$BASE" --reporters json --reporter-json-export "$TMP/report.json" \
    --timeout-request 30000 >/dev/null 2>&1 || true

python3 - "$TMP/report.json" "${POSTMAN_MIN_2XX:-90}" <<'PY'
import json, sys
run = json.load(open(sys.argv[1]))["run"]
total, ok, bad = 0, 0, []
for e in run["executions"]:
    code = (e.get("response") or {}).get("code")
    total += 1
    if code is not None and 200 <= code < 300:
        ok += 1
    else:
        bad.append(f"{code} {e['item']['name']}")
for line in bad:
    print("  not 2xx:", line)
share = 100.0 * ok / total if total else 0.0
print(f"newman: {ok} of {total} requests answered 2xx ({share:.1f} %)")
sys.exit(0 if total and share >= float(sys.argv[2]) else 1)
PY
