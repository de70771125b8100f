"""The console in a real browser: sign-in, a forged cross-site post, API clients and
their policies against the API, the designer draft and publish, patients, the SMS
outbox, reset, and keyboard use and labels on every form. Screenshots of the main pages
go to docs/screenshots/."""

import http.server
import json
import re
import secrets
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import requests
from conftest import DESIGNER, PASSWORD, shot, sign_in

UNLABELLED = """() => [...document.querySelectorAll('input, select, textarea')]
  .filter(e => e.type !== 'hidden')
  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
  .map(e => e.outerHTML)"""


def test_sign_in_and_out(page, server):
    page.goto(f"{server.base}/console/admin")
    assert page.url.endswith("/console/sign-in"), "a page needs a session"
    shot(page, "sign-in")
    page.get_by_label("Operator").fill(server.operator)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().startswith("Wrong operator name or password")
    assert page.get_by_label("Operator").input_value() == server.operator, "the name is kept"
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_text("Signed in as").is_visible()
    shot(page, "home")
    page.get_by_role("button", name="Sign out").click()
    assert page.url.endswith("/console/sign-in")
    page.goto(f"{server.base}/console/")
    assert page.url.endswith("/console/sign-in"), "signed out for good"


def test_a_forged_cross_site_form_post_is_refused(signed_in, server):
    page = signed_in
    name = "FORGED" + secrets.token_hex(3).upper()
    target = f"{server.base}/console/admin/{server.tenant}/clients"
    evil = f"""<html><body><form id="f" method="post" action="{target}">
      <input name="name" value="{name}"><input name="start" value="all"></form>
      <script>document.getElementById('f').submit()</script></body></html>"""

    class Evil(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(evil.encode())

        def log_message(self, *args):
            pass

    other = http.server.HTTPServer(("127.0.0.1", 0), Evil)
    threading.Thread(target=other.serve_forever, daemon=True).start()
    try:
        with page.expect_navigation(url=target):
            page.goto(f"http://127.0.0.1:{other.server_port}/")
        assert "Refused" in page.content()
        assert "nothing was changed" in page.content()
    finally:
        other.shutdown()
    assert name not in server.cli("clients", "list", "--tenant", server.tenant)


def test_an_api_client_made_in_the_console_works_and_its_narrowed_policy_is_enforced(signed_in, server):
    page = signed_in
    page.goto(f"{server.base}/console/admin/{server.tenant}/clients")
    name = "UI" + secrets.token_hex(4).upper()
    page.get_by_label("Name").fill(name)
    page.get_by_label("Starts with").select_option("all")
    page.get_by_role("button", name="Create client").click()
    secret = page.locator("output#secret").inner_text().strip()
    shot(page, "client-secret")
    token = server.token(name, secret)
    assert server.api("GET", "/patients", token).status_code == 200

    page.get_by_role("link", name="Edit its access").click()
    page.get_by_label("All access (every family, operation and admin flag)").uncheck()
    page.locator("#perm-users-read").check()
    page.get_by_role("button", name="Save access").click()
    assert "Access saved" in page.get_by_role("status").inner_text()
    assert '"users"' in page.locator("pre.json").inner_text()
    shot(page, "policy-editor")
    r = server.api("GET", "/patients", token)
    assert r.status_code == 403, r.text
    assert r.json()[0]["errorCode"] == "ACCESS_FOR_API_CLIENT_RESTRICTED"


def test_a_field_added_to_a_cdt_in_the_draft_is_published(signed_in, server):
    page = signed_in
    page.goto(f"{server.base}/console/designer/{server.tenant}/sandbox")
    shot(page, "designer")
    page.get_by_role("link", name="Draft", exact=True).click()
    page.get_by_role("link", name="cdt-self-care").click()
    page.get_by_label("Field name").fill("console-note")
    page.get_by_label("Type", exact=True).select_option("text")
    page.get_by_role("button", name="Add the field").click()
    assert "console-note added" in page.get_by_role("status").inner_text()
    shot(page, "designer-object")
    page.goto(f"{server.base}/console/designer/{server.tenant}/sandbox/diff")
    assert "console-note" in page.content()
    shot(page, "designer-diff")
    page.goto(f"{server.base}/console/designer/{server.tenant}/sandbox")
    page.get_by_role("button", name="Publish the draft").click()
    assert "published as version" in page.get_by_role("status").inner_text()
    r = server.api("GET", "/formations/current/cdts/cdt-self-care")
    assert r.status_code == 200, r.text
    assert "console-note" in [f["name"] for f in r.json()["fields"]]


def test_a_patient_made_over_the_api_is_found(signed_in, server):
    page = signed_in
    last = "Zz" + secrets.token_hex(4)
    made = server.api("POST", "/patients", body={"firstName": "Ada", "lastName": last})
    assert made.status_code == 201, made.text
    page.goto(f"{server.base}/console/data/{server.tenant}/sandbox/patients")
    page.get_by_label("Search (name, email, MRN, external id)").fill(last)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=f"Ada {last}").click()
    assert page.get_by_role("heading", name=f"Ada {last}").is_visible()
    assert made.json()["id"] in page.content()
    shot(page, "patient")


def test_an_sms_sent_over_the_api_is_in_the_outbox_and_a_reset_empties_the_instance(signed_in, server):
    page = signed_in
    token = server.token()
    line = server.api("POST", "/communication-ids", token, {"channel": "SMS", "value": "+15625345699", "label": "Main"})
    assert line.status_code in (201, 409), line.text
    patient = server.api("POST", "/patients", token, {"firstName": "Sam", "lastName": "Texter", "phone": "+15625345678"})
    assert patient.status_code == 201, patient.text
    text = "Console check " + secrets.token_hex(4)
    sent = server.api("POST", f"/patients/{patient.json()['id']}/sms", token, {"message": text, "sendNow": True})
    assert sent.status_code == 201, sent.text
    page.goto(f"{server.base}/console/emulator/{server.tenant}/sandbox")
    assert page.locator("#outbox-sms").get_by_text(text).is_visible()
    shot(page, "emulator")
    page.get_by_role("button", name="Reset the instance").click()
    assert "holds no records" in page.get_by_role("status").inner_text()
    assert "Empty." in page.locator("#outbox-sms").inner_text()
    page.goto(f"{server.base}/console/data/{server.tenant}/sandbox/patients")
    assert "0 in all" in page.locator("nav.pager").inner_text()


def test_keyboard_navigation_and_labelled_inputs_on_every_form(page, server):
    # Sign in with the keyboard alone.
    page.goto(f"{server.base}/console/sign-in")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    page.keyboard.type(server.operator)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Signed in as")
    # The navigation is reached by Tab after the skip link, and followed with Enter.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Admin"
    page.keyboard.press("Enter")
    page.wait_for_url("**/console/admin")
    shot(page, "admin")
    t = server.tenant
    pages = [
        "/console/",
        "/console/admin",
        f"/console/admin/{t}/clients",
        f"/console/admin/{t}/clients/{server.client}",
        f"/console/designer/{t}/sandbox",
        f"/console/designer/{t}/sandbox?version=draft",
        f"/console/designer/{t}/sandbox/cdts/cdt-vitals?version=draft",
        f"/console/designer/{t}/sandbox/dictionaries/{first_dictionary(server)}?version=draft",
        f"/console/designer/{t}/sandbox/validate",
        f"/console/designer/{t}/sandbox/disposition?version=draft",
        f"/console/data/{t}/sandbox/patients",
        f"/console/data/{t}/sandbox/calendar",
        "/console/audit",
        f"/console/audit/{t}",
        f"/console/audit/{t}?kind=security",
        f"/console/audit/{t}?kind=webhook",
        f"/console/emulator/{t}/sandbox",
    ]
    for path in pages:
        page.goto(server.base + path)
        assert page.locator("a.skip").count() == 1, path
        assert page.evaluate(UNLABELLED) == [], path
        # Every control can be reached with the keyboard (none is taken out of the tab order).
        assert page.locator("[tabindex='-1']:not(main)").count() == 0, path
    page.goto(f"{server.base}/console/audit/{t}")
    shot(page, "audit")
    page.goto(f"{server.base}/console/audit#operators")
    assert "OPERATOR_SIGNED_IN" in page.locator("#operators").inner_text()
    shot(page, "audit-operators")


def first_dictionary(server) -> str:
    r = server.api("GET", "/formations/current/dictionaries")
    assert r.status_code == 200, r.text
    return r.json()[0]["name"]


class Hooked:
    """A tenant of its own whose sandbox has an active webhook (PATIENT_CREATED) posting to
    127.0.0.1:`port`, where nothing listens until `listen()`; and an all-access client."""

    def __init__(self, server):
        self.server = server
        self.tenant = "h" + secrets.token_hex(5)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        folder = Path(tempfile.mkdtemp(prefix="console-hook-")) / "designer"
        shutil.copytree(DESIGNER, folder)
        (folder / "webhooks").mkdir(exist_ok=True)
        (folder / "webhooks" / "console-hook.json").write_text(json.dumps({
            "name": "console-hook", "url": f"http://127.0.0.1:{self.port}/hook", "events": ["PATIENT_CREATED"]}))
        server.cli("tenants", "create", self.tenant, "--instances", "sandbox")
        server.cli("designer", "apply", str(folder), "--tenant", self.tenant)
        server.cli("webhooks", "activate", "--tenant", self.tenant, "--instance", "sandbox", "--name", "console-hook")
        self.client = "HOOK" + secrets.token_hex(4).upper()
        made = server.cli("clients", "create", "--tenant", self.tenant, "--name", self.client, "--all-access")
        self.secret = re.search(r"secret: (\S+)", made).group(1)
        self.received = []

    def api(self, method, path, body=None):
        r = requests.post(f"{self.server.base}/{self.tenant}/admin/api_clients/{self.client}",
                          json={"secret": self.secret}, timeout=30)
        assert r.status_code == 201, r.text
        headers = {"Authorization": f"Bearer {r.json()['token']}"}
        return requests.request(method, f"{self.server.base}/{self.tenant}/sandbox{path}", json=body,
                                headers=headers, timeout=30)

    def deliver(self):
        """The emulator's "deliver now": fans new events out and attempts what is due."""
        r = requests.post(f"{self.server.base}/_emulator/webhooks/deliver", json={},
                          headers={"Authorization": f"Bearer {self.server.emulator_token}"}, timeout=30)
        assert r.status_code == 200, r.text

    def listen(self):
        received = self.received

        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                received.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        receiver = http.server.HTTPServer(("127.0.0.1", self.port), Receiver)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        return receiver


def test_retry_now_sends_a_failed_webhook_delivery_again(signed_in, server):
    page = signed_in
    hooked = Hooked(server)
    made = hooked.api("POST", "/patients", {"firstName": "Hook", "lastName": "Retried"})
    assert made.status_code == 201, made.text
    hooked.deliver()  # refused: nothing listens on the port yet
    page.goto(f"{server.base}/console/emulator/{hooked.tenant}/sandbox#webhooks")
    delivery = page.locator("#webhooks details").first
    summary = delivery.locator("summary").inner_text()
    assert "console-hook" in summary and "1 attempts" in summary and "DELIVERED" not in summary, summary
    delivery.locator("summary").click()
    assert "PATIENT_CREATED" in delivery.locator("pre.json").inner_text()
    receiver = hooked.listen()
    try:
        delivery.get_by_role("button", name="Retry now").click()
        assert "due now" in page.get_by_role("status").inner_text()
        deadline = time.time() + 15
        while time.time() < deadline:
            summary = page.locator("#webhooks details summary").first.inner_text()
            if "DELIVERED" in summary:
                break
            time.sleep(0.2)
            page.reload()
        assert "DELIVERED" in summary and "2 attempts" in summary, summary
        assert len(hooked.received) == 1
        assert page.locator("#webhooks details").first.get_by_role("button", name="Retry now").count() == 0
        shot(page, "emulator-webhooks")
    finally:
        receiver.shutdown()


def test_a_snapshot_restore_drops_what_was_made_after_it(signed_in, server):
    page = signed_in
    hooked = Hooked(server)
    before = hooked.api("POST", "/patients", {"firstName": "Before", "lastName": "Snap"}).json()["id"]
    page.goto(f"{server.base}/console/emulator/{hooked.tenant}/sandbox")
    name = "snap-" + secrets.token_hex(3)
    page.get_by_label("Snapshot name").fill(name)
    page.get_by_role("button", name="Save a snapshot").click()
    assert f"Snapshot {name} saved" in page.get_by_role("status").inner_text()
    after = hooked.api("POST", "/patients", {"firstName": "After", "lastName": "Snap"}).json()["id"]
    page.get_by_role("button", name=f"Restore {name}").click()
    assert f"Snapshot {name} restored" in page.get_by_role("status").inner_text()
    assert hooked.api("GET", f"/patients/{before}").status_code == 200
    assert hooked.api("GET", f"/patients/{after}").status_code == 404
    page.goto(f"{server.base}/console/data/{hooked.tenant}/sandbox/patients")
    assert "Before Snap" in page.content() and "After Snap" not in page.content()
