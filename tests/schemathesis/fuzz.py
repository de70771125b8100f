"""Run schemathesis over every operation of the served /openapi.json, with the tenant,
instance and real record ids pinned, and fail unless every check passes.

Failures are collected (not raised) so that one run reports them all, grouped by
operation and check; the process exits 1 when there is any."""

import os
import sys
import time
from collections import Counter, defaultdict

import hypothesis
from hypothesis import HealthCheck, Phase, given, settings

import schemathesis
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from server import Server  # noqa: E402

CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
)
MAX_EXAMPLES = int(os.environ.get("ST_MAX_EXAMPLES", "8"))
# Routes that log the caller out or sign in with a secret: fuzzing them only changes the
# session under test (they have their own tests).
SKIP_PATHS = {"/{tenant}/admin/api_clients/{clientName}", "/{tenant}/auth/token", "/auth/token"}


def pinned_ids(srv, token):
    """Real records of demo/sandbox for the path parameters that name them."""
    base = "/demo/sandbox"
    users = srv.call("GET", "/demo/admin/users", token=token)
    users = users.get("content") or users.get("data") or users
    user_id = users[0]["id"]
    patient = srv.call("POST", base + "/patients",
                       {"firstName": "Fuzz", "lastName": "Target", "timezone": "America/New_York"}, token)
    pid = patient["id"]
    encounter = srv.call("POST", f"{base}/patients/{pid}/encounters", {"templateName": "etmp-follow-up-call"}, token)
    task = srv.call("POST", base + "/tasks", {"name": "Fuzz task", "status": "TODO", "priority": "LOW",
                                              "assignee": {"id": user_id}, "patient": {"id": pid}}, token)
    event = srv.call("POST", base + "/calendar/events", {
        "startDateTime": "2030-01-15T15:00:00.000Z", "endDateTime": "2030-01-15T15:30:00.000Z", "hostId": user_id,
        "participants": [{"participantId": user_id, "participantRole": "psm"},
                         {"participantId": pid, "participantRole": "patient"}]}, token)
    contact = srv.call("POST", f"{base}/patients/{pid}/contacts", {"name": "Jane Doe"}, token)
    return {
        "tenant": "demo", "instance": "sandbox", "patientId": pid, "userId": user_id,
        "encounterId": encounter["id"], "taskId": task["id"], "eventId": event["id"], "contactId": contact["id"],
        "cdtName": "cdt-vitals", "pdtName": "pdt-insurance", "programName": "diabetes",
        "dictionaryName": "cpt", "documentTypeName": "doc-type-others", "version": "current",
    }


def order(op):
    # Deletes last, the patient's own delete at the very end.
    m = op.method.upper()
    return (m == "DELETE", m == "DELETE" and op.path.endswith("{patientId}"), op.path, m)


def main():
    srv = Server()
    started = time.time()
    try:
        token = srv.token()
        ids = pinned_ids(srv, token)
        # The document is OpenAPI 3.1 (utoipa 5); schemathesis 3 reads it behind a flag.
        schemathesis.experimental.OPEN_API_3_1.enable()
        schema = schemathesis.from_uri(srv.base + "/openapi.json", base_url=srv.base)
        ops = [r.ok() for r in schema.get_all_operations()]
        ops = sorted((op for op in ops if op.path not in SKIP_PATHS), key=order)
        failures = defaultdict(Counter)
        examples = 0
        headers = {"Authorization": "Bearer " + token}

        for op in ops:
            @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, derandomize=True,
                      phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy())
            def run(case):
                nonlocal examples
                examples += 1
                if case.path_parameters is not None:
                    for k in list(case.path_parameters):
                        if k in ids:
                            case.path_parameters[k] = ids[k]
                response = case.call(headers=headers, timeout=30)
                for check in CHECKS:
                    try:
                        case.validate_response(response, checks=(check,))
                    except AssertionError as exc:
                        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
                        first = " | ".join(lines[1:3] if len(lines) > 2 else lines)[:240]
                        failures[f"{op.method.upper()} {op.path}"][f"{check.__name__}: {first}"] += 1

            run()

        elapsed = time.time() - started
        total = sum(sum(c.values()) for c in failures.values())
        for name, c in sorted(failures.items()):
            print(name)
            for what, n in c.most_common():
                print(f"    {n}x {what}")
        print(f"schemathesis: {len(ops)} operations, {examples} examples, {total} failures "
              f"({len(failures)} operations failing) in {elapsed:.0f}s")
        return 1 if total else 0
    finally:
        srv.stop()


if __name__ == "__main__":
    sys.exit(main())
