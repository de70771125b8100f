#!/usr/bin/env bash
# schemathesis (PyPI) against the served OpenAPI document: `serve --demo` on port 0 with a
# fresh SQLite database, the demo client's token, tenant `demo`, instance `sandbox` and
# real record ids pinned, a bounded number of generated examples per operation, and the
# checks not_a_server_error, status_code_conformance, content_type_conformance,
# response_headers_conformance and response_schema_conformance. Prints the figures.
# Usage: tests/schemathesis/run.sh   (OPENWELKIN_BIN: server binary; ST_MAX_EXAMPLES: per operation)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv-schemathesis"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --disable-pip-version-check -r tests/schemathesis/requirements.txt
exec "$VENV/bin/python" tests/schemathesis/fuzz.py "$@"
