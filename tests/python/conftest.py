"""Black-box fixtures: bootstrap an openwelkin tenant with the CLI (tenant,
`designer apply` of crates/openwelkin/tests/fixtures/designer to both
instances, API clients), start ``openwelkin serve`` on an ephemeral port and
point the public ``welkin`` client (PyPI welkin==0.1.12) at it.

Environment:
  OPENWELKIN_BIN            server binary (default: <repo>/target/debug/openwelkin)
  OPENWELKIN_TEST_DATABASE  database URL (default: a fresh sqlite file);
                            a shared (e.g. postgres) database is fine: every
                            run uses a freshly generated tenant name.
  OPENWELKIN_KEEP_TMP       keep the temporary directory (sqlite file, server
                            log, welkin token cache) after the run.
"""

# --- token cache isolation: MUST happen before anything imports `welkin` ---
# welkin keeps its token cache at tempfile.gettempdir()/.welkin.db, computed at
# import time and keyed by tenant only.
import os
import tempfile

os.environ["TMPDIR"] = tempfile.mkdtemp(prefix="welkin-")
tempfile.tempdir = None
# ---------------------------------------------------------------------------

import atexit
import collections
import json
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import support  # noqa: E402  (imports welkin, after the TMPDIR switch)
import parity  # noqa: E402

parity.install_tracer()

RUN_TMP = os.environ["TMPDIR"]
REPO_ROOT = Path(__file__).resolve().parents[2]
ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
LISTEN_RE = re.compile(r"listening on http://(\S+)")
SECRET_RE = re.compile(r"secret:\s*(\S+)")
CLIENT_RE = re.compile(r"client:\s*(\S+)")
START_TIMEOUT = 20.0
CLI_TIMEOUT = 120.0
# One tenant's designer folder, published to every test tenant (both instances).
# The session server serves the /_emulator/ controls under this admin token.
EMULATOR_TOKEN = "emulator-" + secrets.token_hex(8)
DESIGNER_FIXTURE = REPO_ROOT / "crates" / "openwelkin" / "tests" / "fixtures" / "designer"

if not os.environ.get("OPENWELKIN_KEEP_TMP"):
    atexit.register(shutil.rmtree, RUN_TMP, True)

# Tail of the server's output, shown in the terminal summary when tests fail.
_SERVER_LOG = collections.deque(maxlen=300)


def _strip(text):
    return ANSI_RE.sub("", text)


def _binary():
    env = os.environ.get("OPENWELKIN_BIN")
    if env:
        p = Path(env)
        if not p.is_absolute() and not p.exists():
            p = REPO_ROOT / p
    else:
        p = REPO_ROOT / "target" / "debug" / "openwelkin"
    if not p.is_file():
        pytest.fail(
            f"openwelkin binary not found at {p} "
            "(build it with `cargo build -p openwelkin` or set OPENWELKIN_BIN)",
            pytrace=False,
        )
    return str(p.resolve())


def _database():
    url = os.environ.get("OPENWELKIN_TEST_DATABASE")
    if url:
        return url
    db_dir = tempfile.mkdtemp(prefix="openwelkin-db-")
    return "sqlite://" + str(Path(db_dir, "openwelkin.db").resolve())


def _cli(binary, *args):
    cmd = [binary, *args]
    try:
        proc = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`{' '.join(cmd)}` timed out: {exc}", pytrace=False)
    if proc.returncode != 0:
        pytest.fail(
            f"`{' '.join(cmd)}` exited {proc.returncode}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}",
            pytrace=False,
        )
    return _strip(proc.stdout)


def _create_client(binary, database, tenant, name, *access):
    out = _cli(
        binary,
        "clients", "create",
        "--tenant", tenant,
        "--name", name,
        *access,
        "--database", database,
    )
    secret = SECRET_RE.search(out)
    if not secret:
        pytest.fail(f"no `secret: ...` line in clients create output:\n{out}", pytrace=False)
    shown = CLIENT_RE.search(out)
    return (shown.group(1) if shown else name), secret.group(1)


def _drain(stream, lines):
    for line in stream:
        line = _strip(line.rstrip("\n"))
        _SERVER_LOG.append(line)
        lines.put(line)
    lines.put(None)


def _start_server(binary, database):
    import queue

    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--database", database,
         "--files-dir", tempfile.mkdtemp(prefix="openwelkin-files-"),
         "--emulator", "--emulator-token", EMULATOR_TOKEN,
         # webhook_tenant's receiver listens on 127.0.0.1
         "--allow-private-webhooks"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    lines = queue.Queue()
    threading.Thread(target=_drain, args=(proc.stdout, lines), daemon=True).start()

    deadline = time.monotonic() + START_TIMEOUT
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            _stop(proc)
            pytest.fail(
                f"openwelkin serve printed no `listening on http://...` line within "
                f"{START_TIMEOUT:.0f}s. Output:\n" + "\n".join(_SERVER_LOG),
                pytrace=False,
            )
        try:
            line = lines.get(timeout=remaining)
        except queue.Empty:
            continue
        if line is None:
            code = proc.wait(timeout=5)
            pytest.fail(
                f"openwelkin serve exited ({code}) before listening. Output:\n"
                + "\n".join(_SERVER_LOG),
                pytrace=False,
            )
        m = LISTEN_RE.search(line)
        if m:
            return proc, "http://" + m.group(1).rstrip("/")


def _stop(proc):
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def ow():
    """Bootstrapped tenant + running server. Yields a support.Env."""
    binary = _binary()
    database = _database()
    tenant = "py" + secrets.token_hex(6)
    suffix = secrets.token_hex(4).upper()

    _cli(binary, "tenants", "create", tenant, "--instances", "live,sandbox",
         "--database", database)
    applied = _cli(binary, "designer", "apply", str(DESIGNER_FIXTURE),
                   "--tenant", tenant, "--database", database)
    for instance in ("live", "sandbox"):
        if f"{tenant}/{instance}: published version 1" not in applied:
            pytest.fail(f"designer apply did not publish version 1 to {instance}:\n{applied}",
                        pytrace=False)

    client_name, client_secret = _create_client(
        binary, database, tenant, "PYALL" + suffix, "--all-access")

    policy = Path(tempfile.mkdtemp(prefix="openwelkin-policy-"), "read-patients.json")
    policy.write_text(json.dumps({"permissions": {"patients": ["read"]}}))
    ro_name, ro_secret = _create_client(
        binary, database, tenant, "PYNOACCESS" + suffix, "--policy", str(policy))

    proc, base = _start_server(binary, database)
    try:
        yield support.Env(
            base=base,
            tenant=tenant,
            client_name=client_name,
            client_secret=client_secret,
            ro_name=ro_name,
            ro_secret=ro_secret,
            database=database,
            emulator_token=EMULATOR_TOKEN,
        )
    finally:
        _stop(proc)


class _Receiver:
    """A local webhook receiver: answers 200 and keeps the JSON bodies."""

    def __init__(self):
        import http.server

        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received.append(json.loads(body or b"null"))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.end_headers()
                self.wfile.write(b"thanks")

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _webhook_tenant(ow, prefix, webhook_name):
    """A tenant of its own (own all-access client, same server): the designer
    fixture plus webhook `webhook_name` (PATIENT_CREATED) posting to a fresh
    local receiver, activated on sandbox. Returns (support.Env, receiver)."""
    import dataclasses

    binary = _binary()
    tenant = prefix + secrets.token_hex(6)
    receiver = _Receiver()
    designer = Path(tempfile.mkdtemp(prefix="openwelkin-designer-"), "designer")
    shutil.copytree(DESIGNER_FIXTURE, designer)
    (designer / "webhooks").mkdir(exist_ok=True)
    (designer / "webhooks" / "patients.json").write_text(json.dumps({
        "name": webhook_name, "title": "Patient changes", "url": receiver.url,
        "events": ["PATIENT_CREATED"]}))
    _cli(binary, "tenants", "create", tenant, "--instances", "live,sandbox",
         "--database", ow.database)
    _cli(binary, "designer", "apply", str(designer), "--tenant", tenant,
         "--database", ow.database)
    name, secret = _create_client(binary, ow.database, tenant,
                                  prefix.upper() + secrets.token_hex(4).upper(), "--all-access")
    env = dataclasses.replace(ow, tenant=tenant, client_name=name, client_secret=secret)
    raw = support.Raw(env, support.raw_token(env, name, secret))
    r = raw.post(f"sandbox/webhooks/{webhook_name}/activate")
    if r.status_code != 200:
        receiver.close()
        pytest.fail(f"activating {webhook_name}: {r.status_code} {r.text}", pytrace=False)
    return env, receiver


@pytest.fixture(scope="session")
def webhook_tenant(ow):
    """A second tenant (own client, same server) whose designer is the fixture
    plus webhook `wh-patients` (PATIENT_CREATED) posting to a local receiver,
    activated on sandbox. Yields (support.Env of that tenant, receiver)."""
    env, receiver = _webhook_tenant(ow, "pywh", "wh-patients")
    try:
        yield env, receiver
    finally:
        receiver.close()


@pytest.fixture(scope="session")
def emu_tenant_with_receiver(ow):
    """The tenant the emulator tests may reset, seed and snapshot at will
    (no other test touches it): like webhook_tenant, with webhook `wh-emu`
    (PATIENT_CREATED, active on sandbox) posting to its own receiver.
    Yields (support.Env, receiver)."""
    env, receiver = _webhook_tenant(ow, "pyemu", "wh-emu")
    try:
        yield env, receiver
    finally:
        receiver.close()


@pytest.fixture(scope="session")
def emu_tenant(emu_tenant_with_receiver):
    return emu_tenant_with_receiver[0]


@pytest.fixture
def throwaway_tenant(ow):
    """A brand-new tenant (live + sandbox, designer fixture applied, its own
    all-access client) for tests that wipe a whole tenant. Returns support.Env."""
    import dataclasses

    binary = _binary()
    tenant = "pytmp" + secrets.token_hex(6)
    _cli(binary, "tenants", "create", tenant, "--instances", "live,sandbox",
         "--database", ow.database)
    _cli(binary, "designer", "apply", str(DESIGNER_FIXTURE), "--tenant", tenant,
         "--database", ow.database)
    name, secret = _create_client(binary, ow.database, tenant,
                                  "PYTMP" + secrets.token_hex(4).upper(), "--all-access")
    return dataclasses.replace(ow, tenant=tenant, client_name=name, client_secret=secret)


@pytest.fixture
def client(ow):
    """The all-access API client on instance `sandbox`, bound as the active
    welkin client (welkin binds its model classes to the last Client built)."""
    return support.make_client(ow, ow.client_name, ow.client_secret, "sandbox")


@pytest.fixture
def live_client(ow):
    """Same API client on instance `live`. NOTE: building it rebinds welkin's
    model classes; call support.activate(...) before switching back."""
    return support.make_client(ow, ow.client_name, ow.client_secret, "live")


@pytest.fixture
def ro_client(ow):
    """Client whose policy only allows reading patients. Activating it
    refreshes the tenant-keyed token cache with its own token."""
    return support.make_client(ow, ow.ro_name, ow.ro_secret, "sandbox")


@pytest.fixture
def recorder(client):
    """Records (method, path_url, status) of every request `client` sends."""
    rec = support.Recorder()
    client.hooks["response"].append(rec)
    return rec


@pytest.fixture(scope="session")
def api(ow):
    """Raw `requests` access with a bearer token of the all-access client."""
    return support.Raw(ow, support.raw_token(ow, ow.client_name, ow.client_secret))


# --------------------------------------------------------------------------
# client parity: every scenario declares the welkin pairs it covers
# (@parity.covers); a pair counts only when the test body really called it
# and the test passed (or strictly xfailed: a reported server defect).
# --------------------------------------------------------------------------

_CALLED_KEY = pytest.StashKey[set]()
PARITY_LAST = "test_parity.py::test_every_pair_ran_in_a_passing_scenario"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "covers(*pairs): welkin client pairs (Class.method) a scenario exercises")


def pytest_collection_modifyitems(session, config, items):
    # The run-time parity check reads every other test's outcome: run it last.
    last = [i for i in items if i.nodeid.endswith(PARITY_LAST)]
    if last:
        items[:] = [i for i in items if i not in last] + last


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    parity.CALLED.clear()
    try:
        return (yield)
    finally:
        item.stash[_CALLED_KEY] = set(parity.CALLED)
        parity.CALLED.clear()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when != "call":
        return report
    declared = parity.declared(item)
    called = item.stash.get(_CALLED_KEY, set())
    unknown = declared - set(parity.welkin_api())
    missing = declared - called
    xfailed = report.skipped and hasattr(report, "wasxfail")
    if (unknown or missing) and (report.passed or xfailed):
        # A declaration the test body does not honour fails the test, even
        # an xfailing one (it would otherwise hide behind the xfail).
        report.outcome = "failed"
        if xfailed:
            del report.wasxfail
        report.longrepr = (
            f"@covers declares pairs this test never called: {sorted(missing)}\n"
            f"unknown pairs (not in welkin_api()): {sorted(unknown)}\n"
            f"called: {sorted(called)}")
    outcome = "xfailed" if report.skipped and hasattr(report, "wasxfail") else report.outcome
    if outcome == "xfailed":
        mark = item.get_closest_marker("xfail")
        strict = mark is not None and mark.kwargs.get("strict", item.config.getini("xfail_strict"))
        if not strict:
            outcome = "xfailed-not-strict"  # counts for nothing
    parity.RESULTS[item.nodeid] = {"outcome": outcome, "covers": declared,
                                   "called": called}
    return report


def pytest_runtest_logreport(report):
    # An error in setup or teardown spoils the scenario's coverage too.
    if report.when in ("setup", "teardown") and report.failed:
        parity.RESULTS.setdefault(report.nodeid, {"covers": set(), "called": set()})
        parity.RESULTS[report.nodeid]["outcome"] = "failed"


def pytest_sessionfinish(session, exitstatus):
    dump = os.environ.get("OPENWELKIN_PARITY_TRACE")
    if dump:
        Path(dump).write_text(json.dumps(
            {k: {"outcome": v["outcome"], "covers": sorted(v["covers"]),
                 "called": sorted(v["called"])} for k, v in parity.RESULTS.items()},
            indent=1))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if parity.REPORT:
        terminalreporter.section("welkin client parity")
        for line in parity.REPORT:
            terminalreporter.write_line(line)
    if exitstatus != 0 and _SERVER_LOG:
        terminalreporter.section("openwelkin server output (tail)")
        for line in list(_SERVER_LOG)[-80:]:
            terminalreporter.write_line(line)
