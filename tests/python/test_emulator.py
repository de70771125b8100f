"""The emulator controls (`openwelkin serve --emulator`), seen through the real welkin
client and raw HTTP:

* the clock: after it jumps past a token's hour the server refuses the token and the
  client fetches a new one by itself;
* injected faults (status, latency, dropped connections): the client's own retries;
* snapshots: restoring gives back exactly the saved data, file bytes included;
* reset of an instance and of a tenant, what goes and what stays;
* the seed generator (deterministic) and seed fixtures (all-or-nothing);
* the outboxes (SMS, email, chat, webhooks) and on-demand webhook delivery.

Everything but the clock runs on tenants of their own (conftest.emu_tenant,
conftest.throwaway_tenant): the shared test tenant is never reset or faulted.
"""

import io
import time

import pytest
import requests
from welkin import Client
from welkin.exceptions import WelkinHTTPError

import support
from emulator_fixture import emulator, fresh_instance  # noqa: F401  (fixtures)
from support import RAW_TIMEOUT, assert_error, plain, uniq


def _emulator(ow, action, body=None):
    r = requests.post(
        f"{ow.base}/_emulator/clock/{action}",
        json=body or {},
        headers={"Authorization": f"Bearer {ow.emulator_token}"},
        timeout=RAW_TIMEOUT,
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_client_recovers_after_clock_jumps_61_minutes(ow, client, recorder):
    client.Patients().get()  # holds a fresh token now
    before = len(recorder.calls)
    try:
        _emulator(ow, "advance", {"minutes": 61})

        patients = client.Patients().get()

        calls = recorder.calls[before:]
        assert isinstance(patients, list)
        assert calls[0][2] == 401, calls
        assert_error(recorder.responses[before], 401, "TOKEN_EXPIRED")
        assert calls[1][0:2] == ("POST", f"/{ow.tenant}/admin/api_clients/{ow.client_name}")
        assert calls[-1][2] == 200, calls
        assert len(calls) == 3, calls
    finally:
        # Later tests run on the real time again; tokens issued meanwhile stay valid.
        _emulator(ow, "reset")


def test_emulator_controls_refuse_api_client_tokens(ow, api):
    r = requests.post(
        f"{ow.base}/_emulator/clock/advance",
        json={"days": 1},
        headers={"Authorization": api.session.headers["Authorization"]},
        timeout=RAW_TIMEOUT,
    )
    assert_error(r, 401, "EMULATOR_TOKEN_INVALID")


# ===========================================================================
# helpers
# ===========================================================================

SELF_CARE = "cdt-self-care"
PNG = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89"
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01" + bytes(range(256)) * 8
WINDOW = {"from_date": support.utc_at(2031, 1, 1), "to_date": support.utc_at(2031, 12, 31),
          "include_cancelled": True}


def _client(env, retries=False):
    """The welkin client on `env`'s sandbox; with retries=True it keeps welkin's
    own defaults (urllib3 Retry: total 5, backoff 0.5, 429/500/502/503/504)."""
    if not retries:
        return support.make_client(env, env.client_name, env.client_secret, "sandbox")
    c = Client(tenant=env.tenant, instance="sandbox", api_client=env.client_name,
               secret_key=env.client_secret)
    c.host = env.host()
    return support.activate(c)


def _raw(env):
    return support.Raw(env, support.raw_token(env, env.client_name, env.client_secret))


def _patients(client):
    return sorted((plain(p) for p in support.capped(client.Patients().get(paginate=True), 500)),
                  key=lambda p: p["id"])


def _wait_for(what, probe, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def emu(fresh_instance):
    """(env, welkin client, raw API) on the freshly reset emulator instance."""
    env, _ = fresh_instance
    return env, _client(env), _raw(env)


# ===========================================================================
# faults
# ===========================================================================

def test_client_retries_an_injected_503_twice_then_succeeds(emulator, emu):
    env, client, _ = emu
    made = client.Patient(firstName="Retry", lastName=uniq("R")).create()
    rule = emulator.add_fault_ok(path=f"/{env.tenant}/sandbox/patients*", method="GET",
                                 status=503, times=2)
    assert rule["matched"] == 0 and rule["times"] == 2 and rule["status"] == 503
    assert [f["id"] for f in emulator.faults()] == [rule["id"]]

    retrying = _client(env, retries=True)
    rec = support.Recorder()
    retrying.hooks["response"].append(rec)
    started = time.monotonic()
    # Patient.get is GET {i}/patients/{id}: idempotent, so urllib3 retries it.
    got = retrying.Patient(id=made["id"]).get()

    assert plain(got) == plain(made)
    # urllib3 retried inside the adapter: the hook saw one (final) answer,
    # whose retry history holds the two injected 503s: three attempts.
    gets = [c for c in rec.calls if c[0] == "GET"]
    assert [c[2] for c in gets] == [200], rec.calls
    history = rec.responses[-1].raw.retries.history
    assert [(h.method, h.status) for h in history] == [("GET", 503), ("GET", 503)], history
    assert time.monotonic() - started >= 0.9, "backoff 0.5: 0 s then 1 s before the retries"
    # Two matches used the rule up: it is gone.
    assert emulator.faults() == []


def test_the_clients_patient_list_is_a_post_and_is_not_retried(emulator, emu):
    """welkin 0.1.12 lists patients with POST {i}/by-filter/patients: a GET rule on
    {i}/patients* does not touch it, and a 503 on it is not retried."""
    env, client, _ = emu
    made = client.Patient(firstName="Listed", lastName=uniq("L")).create()
    retrying = _client(env, retries=True)
    emulator.add_fault_ok(path=f"/{env.tenant}/sandbox/patients*", method="GET", status=503, times=2)
    assert [p["id"] for p in retrying.Patients().get()] == [made["id"]]
    [rule] = emulator.faults()
    assert rule["matched"] == 0
    emulator.clear_faults_ok()

    emulator.add_fault_ok(path=f"/{env.tenant}/sandbox/by-filter/patients", status=503, times=2)
    rec = support.Recorder()
    retrying.hooks["response"].append(rec)
    with pytest.raises(WelkinHTTPError) as info:
        retrying.Patients().get()
    assert_error(info.value.response, 503, "SERVICE_UNAVAILABLE")
    assert not rec.responses[-1].raw.retries.history
    [rule] = emulator.faults()
    assert rule["matched"] == 1, "one attempt only"
    with pytest.raises(WelkinHTTPError):
        retrying.Patients().get()  # the second (last) match
    assert emulator.faults() == []
    assert [p["id"] for p in retrying.Patients().get()] == [made["id"]]


def test_injected_error_is_a_welkin_error_array(emulator, emu):
    env, _, api = emu
    emulator.add_fault_ok(path=f"/{env.tenant}/sandbox/patients", status=429, times=1)
    first = assert_error(api.get("sandbox/patients"), 429)
    assert first["componentType"] == "EMULATOR"
    assert api.get("sandbox/patients").status_code == 200, "times=1: only the next request"

    emulator.add_fault_ok(path=f"/{env.tenant}/*", status=503, times=1)
    first = assert_error(api.get(f"sandbox/patients/{uniq()}"), 503, "SERVICE_UNAVAILABLE")
    assert first["componentType"] == "EMULATOR"


def test_post_is_not_retried_and_nothing_is_created(emulator, emu):
    env, _, api = emu
    rule = emulator.add_fault_ok(path=f"/{env.tenant}/sandbox/patients", method="POST",
                                 status=500, errorRate=1)
    retrying = _client(env, retries=True)
    rec = support.Recorder()
    retrying.hooks["response"].append(rec)
    started = time.monotonic()
    with pytest.raises(WelkinHTTPError) as info:
        retrying.Patient(firstName="Never", lastName=uniq("Made")).create()
    assert time.monotonic() - started < 0.5, "no backoff: POST is not retried"
    assert_error(info.value.response, 500)
    assert rec.calls[-1][0] == "POST" and rec.calls[-1][2] == 500
    assert not rec.responses[-1].raw.retries.history
    # The rule stays (no `times`), matched once; GETs pass untouched.
    [still] = emulator.faults()
    assert still["id"] == rule["id"] and still["matched"] == 1
    assert retrying.Patients().get() == []
    assert emulator.clear_faults_ok() == {"cleared": 1}
    assert _patients(retrying) == []


def test_latency_rule_delays_the_answer(emulator, emu):
    env, _, api = emu
    emulator.add_fault_ok(path=f"/{env.tenant}/sandbox/patients", method="GET", latencyMs=600,
                          times=1)
    started = time.monotonic()
    r = api.get("sandbox/patients")
    slow = time.monotonic() - started
    assert r.status_code == 200, r.text  # latency only: the answer is the real one
    assert slow >= 0.6, slow
    started = time.monotonic()
    assert api.get("sandbox/patients").status_code == 200
    assert time.monotonic() - started < slow


def test_dropped_connection_and_emulator_routes_are_never_faulted(emulator, emu):
    env, _, api = emu
    emulator.add_fault_ok(path=f"/{env.tenant}/*", dropRate=1)
    with requests.Session() as bare:  # requests' default: no retries
        bare.headers.update(api.session.headers)
        with pytest.raises(requests.exceptions.ConnectionError):
            bare.get(env.url("sandbox/patients"), timeout=RAW_TIMEOUT)
        with pytest.raises(requests.exceptions.ConnectionError):
            bare.post(env.url("sandbox/patients"), json={"firstName": "No", "lastName": "Body"},
                      timeout=RAW_TIMEOUT)
    [rule] = emulator.faults()
    assert rule["matched"] == 2
    assert emulator.clear_faults_ok() == {"cleared": 1}
    assert support.items_of(api.get("sandbox/patients").json()) == []

    # `*` spans every segment of every path, yet the controls stay reachable.
    emulator.add_fault_ok(path="*", status=500)
    try:
        assert_error(api.get("sandbox/patients"), 500)
        assert emulator.snapshots(env.tenant, "sandbox").status_code == 200
        assert emulator.outbox(env.tenant, "sandbox", "sms").status_code == 200
        [rule] = emulator.faults()
        assert rule["matched"] == 1
    finally:
        assert emulator.clear_faults_ok() == {"cleared": 1}


def test_fault_rules_are_validated_listed_and_deleted(emulator, emu):
    for bad in ({"path": "/x/*", "status": 418}, {"path": "/x/*", "status": 503, "errorRate": 2},
                {"path": "/x/*", "status": 503, "dropRate": -0.5}, {"status": 503}):
        r = emulator.add_fault(**bad)
        assert_error(r, 400)
    a = emulator.add_fault_ok(path="/nobody/*", status=502)
    b = emulator.add_fault_ok(path="/nobody/else/*", status=504, method="GET")
    assert sorted(f["id"] for f in emulator.faults()) == sorted([a["id"], b["id"]])
    assert emulator.drop_fault(a["id"]).status_code == 204
    assert_error(emulator.drop_fault(a["id"]), 404)
    assert [f["id"] for f in emulator.faults()] == [b["id"]]
    assert emulator.clear_faults_ok() == {"cleared": 1}
    assert emulator.clear_faults_ok() == {"cleared": 0}


# ===========================================================================
# snapshots
# ===========================================================================

def _picture(client):
    """Everything the welkin client can read back of the instance, as plain JSON."""
    picture = {"patients": _patients(client), "calendar": sorted(
        (plain(e) for e in client.CalendarEvents().get(**WINDOW)), key=lambda e: e["id"])}
    for p in picture["patients"]:
        pid = p["id"]
        docs = []
        for d in sorted((plain(d) for d in client.DocumentSummaries().get(pid)), key=lambda d: d["id"]):
            files = {f["id"]: client.DocumentSummaryFile(id=f["id"]).get(pid, d["id"]).getvalue()
                     for f in d["jsonBody"]["files"] or []}
            docs.append((d, files))
        picture[pid] = {
            "cdts": sorted((plain(r) for r in client.CDTs().get(patient_id=pid, cdt_name=SELF_CARE,
                                                                 paginate=True)),
                           key=lambda r: r["id"]),
            "encounters": sorted((plain(e) for e in client.Encounters().get(patient_id=pid)),
                                 key=lambda e: e["id"]),
            "chat": [plain(c) for c in client.Chats().get(pid)],
            "documents": docs,
        }
    return picture


def test_restore_gives_back_exactly_the_snapshot(emulator, emu):
    env, client, api = emu
    t = env.tenant
    psm = support.calendar_user(client)
    a = client.Patient(firstName="Ada", lastName=uniq("Snap"), email=f"{uniq('a')}@example.org").create()
    b = client.Patient(firstName="Bob", lastName=uniq("Snap")).create()
    for p in (a, b):
        client.CDT(cdtName=SELF_CARE, **{"cdtf-alone-time": "Yes", "cdtf-unwind": p["firstName"]}).create(p["id"])
    support.new_encounter(client.Patient(id=a["id"]))
    client.Chat(message="hello from Ada").create(a["id"])
    assert api.post(f"sandbox/patients/{a['id']}/chat/messages", json={"body": "hi Ada"}).status_code == 201
    doc = client.DocumentSummary(type="doc-type-others").create(a["id"])
    client.DocumentSummaryFiles().create(a["id"], doc["id"], files=[
        ("files", ("photo.jpg", io.BytesIO(JPEG), "image/jpeg")),
        ("files", ("scan.png", io.BytesIO(PNG), "image/png"))])
    event = support.new_calendar_event(
        client, psm, support.utc_at(2031, 3, 1, 10),
        participants=[{"participantId": psm, "participantRole": "psm"},
                      {"participantId": a["id"], "participantRole": "patient"}])

    saved = emulator.save(t, "sandbox", "before-changes")
    assert saved.status_code == 201, saved.text
    assert saved.json()["name"] == "before-changes" and saved.json()["rows"] > 0
    assert support.TS_RE.match(saved.json()["createdAt"])
    before = _picture(client)
    # The picture is not vacuous.
    assert [p["id"] for p in before["patients"]] == sorted([a["id"], b["id"]])
    assert len(before[a["id"]]["cdts"]) == 1 and len(before[a["id"]]["encounters"]) == 1
    assert len(before[a["id"]]["chat"]) == 2
    [(_, files)] = before[a["id"]]["documents"]
    assert sorted(files.values()) == sorted([JPEG, PNG])
    assert [e["id"] for e in before["calendar"]] == [event["id"]]

    # Change everything: updates, deletes, creates.
    client.Patient(id=a["id"]).update(firstName="Changed")
    client.CDT(cdtName=SELF_CARE, **{"cdtf-unwind": "more"}).create(a["id"])
    support.new_encounter(client.Patient(id=b["id"]))
    client.Chat(message="another").create(a["id"])
    assert api.delete(f"sandbox/patients/{a['id']}/document-summary/{doc['id']}").status_code in (200, 204)
    assert api.delete(f"sandbox/calendar/events/{event['id']}").status_code in (200, 204)
    client.Patient(id=b["id"]).delete()
    c = client.Patient(firstName="Cy", lastName=uniq("New")).create()
    client.CDT(cdtName=SELF_CARE, **{"cdtf-unwind": "c"}).create(c["id"])
    assert _picture(client) != before

    r = emulator.restore(t, "sandbox", "before-changes")
    assert r.status_code == 200, r.text

    assert _picture(client) == before
    with pytest.raises(WelkinHTTPError) as info:
        client.Patient(id=c["id"]).get()
    assert info.value.response.status_code == 404
    # The snapshot stays and can be restored again.
    client.Patient(id=a["id"]).update(firstName="Again")
    assert emulator.restore(t, "sandbox", "before-changes").status_code == 200
    assert _picture(client) == before


def test_snapshots_are_listed_replaced_deleted_and_validated(emulator, emu):
    env, client, _ = emu
    t = env.tenant
    try:
        one = emulator.save(t, "sandbox", "snap.one_1-A")
        assert one.status_code == 201, one.text
        client.Patient(firstName="Two", lastName=uniq("S")).create()
        two = emulator.save(t, "sandbox", "two")
        assert two.status_code == 201
        assert two.json()["rows"] > one.json()["rows"]
        listed = emulator.snapshots(t, "sandbox")
        assert listed.status_code == 200
        names = {s["name"]: s for s in listed.json()["snapshots"]}
        assert {"snap.one_1-A", "two"} <= set(names)
        assert names["two"] == two.json()

        # Same name: replaced.
        client.Patient(firstName="Three", lastName=uniq("S")).create()
        again = emulator.save(t, "sandbox", "two")
        assert again.status_code == 201 and again.json()["rows"] > two.json()["rows"]
        listed = emulator.snapshots(t, "sandbox").json()["snapshots"]
        assert [s["name"] for s in listed].count("two") == 1
        assert emulator.restore(t, "sandbox", "two").status_code == 200
        assert len(_patients(client)) == 2
        assert emulator.restore(t, "sandbox", "snap.one_1-A").status_code == 200
        assert _patients(client) == []

        for bad in ("a" * 101, "bad name", "semi;colon", "star*"):
            assert_error(emulator.save(t, "sandbox", bad), 400)
        assert emulator.save(t, "sandbox", "a" * 100).status_code == 201
        assert emulator.drop(t, "sandbox", "a" * 100).status_code == 204
        assert_error(emulator.restore(t, "sandbox", "never-saved"), 404)
        assert_error(emulator.drop(t, "sandbox", "never-saved"), 404)
        assert emulator.drop(t, "sandbox", "two").status_code == 204
        assert_error(emulator.restore(t, "sandbox", "two"), 404)
        # Snapshots belong to their instance.
        assert_error(emulator.restore(t, "live", "snap.one_1-A"), 404)
    finally:
        for s in emulator.snapshots(t, "sandbox").json()["snapshots"]:
            emulator.drop(t, "sandbox", s["name"])


# ===========================================================================
# reset
# ===========================================================================

def test_instance_reset_keeps_users_formation_audit_and_other_instances(emulator, emu):
    env, client, api = emu
    t = env.tenant
    seeded = emulator.seed_ok(t, "sandbox", count=3, seed=11)
    assert seeded["created"] == seeded["requests"] > 3
    mine = client.Patient(firstName="Audited", lastName=uniq("Reset")).create()
    client.CDT(cdtName=SELF_CARE, **{"cdtf-unwind": "x"}).create(mine["id"])
    assert len(_patients(client)) == 4
    users_before = sorted(u["username"] for u in api.get("admin/users", params={"size": 1000}).json()["data"])
    assert any(u.startswith("care-11-") for u in users_before), users_before
    live = support.Raw(env, api.session.headers["Authorization"].split()[1])
    other = live.post("live/patients", json={"firstName": "Lives", "lastName": uniq("On")})
    assert other.status_code == 201, other.text

    body = emulator.reset_ok(t, "sandbox")

    assert body["tenant"] == t and body["instances"] == ["sandbox"]
    assert body["rowsDeleted"] >= 4 + 4 + 1
    assert _patients(client) == []
    with pytest.raises(WelkinHTTPError):
        client.Patient(id=mine["id"]).get()
    # Users (tenant-level), the formation, the audit and the other instance stay.
    users_after = sorted(u["username"] for u in api.get("admin/users", params={"size": 1000}).json()["data"])
    assert users_after == users_before
    assert client.Formation(version="current").CDT(name=SELF_CARE).get()["id"]
    rows = list(client.DataAudits().get(params={"patientId": mine["id"]}, paginate=True))
    assert "PATIENT_CREATED" in [r.eventSubtype for r in rows]
    assert live.get(f"live/patients/{other.json()['id']}").status_code == 200
    # The API client still works, and the instance takes new data.
    assert client.Patient(firstName="After", lastName="Reset").create()["id"]
    assert emulator.reset_ok(t, "sandbox")["rowsDeleted"] >= 1
    assert emulator.reset_ok(t, "sandbox")["rowsDeleted"] == 0


def test_tenant_reset_wipes_every_instance_and_the_users(emulator, throwaway_tenant):
    env = throwaway_tenant
    api = _raw(env)
    for inst in ("live", "sandbox"):
        r = api.post(f"{inst}/patients", json={"firstName": "Gone", "lastName": inst})
        assert r.status_code == 201, r.text
    client = _client(env)
    user = client.User(username=uniq("u"), email=f"{uniq('u')}@example.com",
                       firstName="Will", lastName="Go").create()

    body = emulator.reset_ok(env.tenant)

    assert body["tenant"] == env.tenant
    assert sorted(body["instances"]) == ["live", "sandbox"]
    assert body["rowsDeleted"] >= 3
    for inst in ("live", "sandbox"):
        assert support.items_of(api.get(f"{inst}/patients").json()) == []
    assert api.get(f"admin/users/{user['id']}").status_code == 404
    assert api.get("admin/users").json()["data"] == []
    # Configuration and API clients stay.
    assert client.Formation(version="current").CDT(name=SELF_CARE).get()["id"]
    assert _raw(env).get("sandbox/patients").status_code == 200
    assert_error(emulator.reset(env.tenant + "x"), 404)
    assert_error(emulator.reset(env.tenant, "nowhere"), 404)


# ===========================================================================
# seed
# ===========================================================================

SEED_CDT = "cdt-phq-2"  # the generator's CDT in the designer fixture


def _seeded_people(client):
    keep = ("externalId", "firstName", "lastName", "birthDate", "email", "phone", "gender", "timezone")
    return sorted(({k: p[k] for k in keep} for p in _patients(client)), key=lambda p: p["externalId"])


def _users(api):
    return sorted(u["username"] for u in api.get("admin/users", params={"size": 1000}).json()["data"])


def _without_external_id(people):
    return [{k: v for k, v in p.items() if k != "externalId"} for p in people]


def test_generator_makes_what_it_says(emulator, emu):
    env, client, api = emu
    t = env.tenant
    body = emulator.seed_ok(t, "sandbox", count=6, seed=42)
    # 1 care-team user, 6 patients, 6 CDT records, 2 encounters (0, 3),
    # 3 inbound chats (0, 2, 4), 2 calendar events (0, 4).
    assert body == {"requests": 20, "created": 20}
    people = _seeded_people(client)
    assert [p["externalId"] for p in people] == [f"seed-42-{n}" for n in range(6)]
    assert len({(p["firstName"], p["lastName"]) for p in people}) == 6
    assert all(p["email"].endswith(f".42.{n}@example.com") for n, p in enumerate(people))
    by_ext = {p["externalId"]: p for p in _patients(client)}
    for n in range(6):
        pid = by_ext[f"seed-42-{n}"]["id"]
        assert len(client.CDTs().get(patient_id=pid, cdt_name=SEED_CDT)) == 1, n
        assert len(client.Encounters().get(patient_id=pid)) == (1 if n % 3 == 0 else 0), n
        chats = client.Chats().get(pid)
        assert len(chats) == (1 if n % 2 == 0 else 0), n
        assert all(c["sender"]["clientType"] == "PATIENT" for c in chats)
    events = client.CalendarEvents().get(from_date=support.utc_at(2000, 1, 1),
                                         to_date=support.utc_at(2100, 1, 1), include_cancelled=True)
    with_patient = {x["participantId"] for e in events for x in e["participants"]}
    assert len(events) == 2
    assert {by_ext["seed-42-0"]["id"], by_ext["seed-42-4"]["id"]} <= with_patient
    assert "care-42-0" in _users(api)
    # Seeded writes are audited, under the emulator's own API client.
    rows = list(client.DataAudits().get(params={"patientId": by_ext["seed-42-1"]["id"]}, paginate=True))
    assert "PATIENT_CREATED" in [r.eventSubtype for r in rows]
    assert all(r.subjectFullName == "API_CLIENT:openwelkin-emulator" for r in rows)


def test_generator_is_deterministic_across_a_tenant_reset(emulator, throwaway_tenant):
    env = throwaway_tenant
    client = _client(env)
    emulator.seed_ok(env.tenant, "sandbox", count=5, seed=42)
    first = _seeded_people(client)
    assert [p["externalId"] for p in first] == [f"seed-42-{n}" for n in range(5)]

    emulator.reset_ok(env.tenant)
    emulator.seed_ok(env.tenant, "sandbox", count=5, seed=42)
    assert _seeded_people(client) == first

    emulator.reset_ok(env.tenant)
    emulator.seed_ok(env.tenant, "sandbox", count=5, seed=43)
    other = _seeded_people(client)
    assert [p["externalId"] for p in other] == [f"seed-43-{n}" for n in range(5)]
    assert _without_external_id(other) != _without_external_id(first)


def test_generator_is_deterministic_across_an_instance_reset(emulator, emu):
    env, client, _ = emu
    t = env.tenant
    emulator.seed_ok(t, "sandbox", count=4, seed=4242)
    first = _seeded_people(client)
    assert [p["externalId"] for p in first] == [f"seed-4242-{n}" for n in range(4)]

    emulator.reset_ok(t, "sandbox")
    emulator.seed_ok(t, "sandbox", count=4, seed=4242)
    assert _seeded_people(client) == first


def test_seed_is_all_or_nothing(emulator, emu):
    env, client, api = emu
    t = env.tenant
    emulator.seed_ok(t, "sandbox", count=2, seed=5)
    before = _patients(client)
    users = api.get("admin/users", params={"size": 1000}).json()["metaInfo"]["totalElements"]

    # The same seed again: externalId conflict, nothing changes.
    r = emulator.seed(t, "sandbox", count=2, seed=5)
    first = assert_error(r, 400)
    assert "seed-5-0" in first["message"]
    assert _patients(client) == before

    # A fixture whose 3rd request fails: the first two are undone.
    r = emulator.seed(t, "sandbox", requests=[
        {"id": "p", "method": "POST", "path": "patients",
         "body": {"firstName": "Half", "lastName": "Done", "externalId": "half-1"}},
        {"method": "POST", "path": "patients/{{p.id}}/cdts/" + SELF_CARE,
         "body": {"cdtf-unwind": "ok"}},
        {"method": "POST", "path": "patients/{{p.id}}/cdts/cdt-nope", "body": {}},
    ])
    first = assert_error(r, 400)
    assert "request 2" in first["message"] and "cdt-nope" in first["message"], first
    assert first["componentType"] == "EMULATOR"

    assert _patients(client) == before
    assert api.get("admin/users", params={"size": 1000}).json()["metaInfo"]["totalElements"] == users

    # A reference to an unknown earlier answer fails too.
    r = emulator.seed(t, "sandbox", requests=[
        {"method": "POST", "path": "patients/{{nobody.id}}/cdts/" + SELF_CARE, "body": {}}])
    assert_error(r, 400)
    assert _patients(client) == before


def test_a_failed_seed_is_audited_with_its_rollback(emulator, emu):
    """The audit is append-only: the writes a failed seed made are in it, and so is the
    restore that undid them, so the history stays true."""
    env, _, api = emu

    def rows(kind, **params):
        return api.get(f"admin/audit-{kind}", params={"page": 0, "size": 1000, **params}).json()["data"]

    before = {b["eventId"] for b in rows("data")}
    restores = len(rows("security", eventSubtype="EMULATOR_SNAPSHOT_RESTORED"))
    r = emulator.seed(env.tenant, "sandbox", requests=[
        {"id": "p", "method": "POST", "path": "patients",
         "body": {"firstName": "Half", "lastName": "Done", "externalId": uniq("half-")}},
        {"method": "POST", "path": "patients/{{p.id}}/cdts/" + SELF_CARE, "body": {"cdtf-unwind": "ok"}},
        {"method": "POST", "path": "patients/{{p.id}}/cdts/cdt-nope", "body": {}},
    ])
    assert_error(r, 400)
    new = [row for row in rows("data") if row["eventId"] not in before]
    assert sorted(row["eventSubtype"] for row in new) == ["CDT_CREATED", "PATIENT_CREATED"]
    assert len(rows("security", eventSubtype="EMULATOR_SNAPSHOT_RESTORED")) == restores + 1


def test_seed_fixture_with_references_and_absolute_paths(emulator, emu):
    env, client, _ = emu
    t = env.tenant
    ext = uniq("fx-")
    body = emulator.seed_ok(t, "sandbox", requests=[
        {"id": "p", "method": "POST", "path": "patients",
         "body": {"firstName": "Fix", "lastName": "Ture", "externalId": ext}},
        {"id": "r", "method": "POST", "path": "/{tenant}/{instance}/patients/{{p.id}}/cdts/" + SELF_CARE,
         "body": {"cdtf-alone-time": "No", "cdtf-unwind": "reading"}},
        {"method": "PATCH", "path": "patients/{{p.id}}", "body": {"firstName": "Fixed"}},
    ])
    # `created` counts the answers that created something (the PATCH answers 200).
    assert body == {"requests": 3, "created": 2}
    [p] = _patients(client)
    assert (p["firstName"], p["externalId"]) == ("Fixed", ext)
    [rec] = client.CDTs().get(patient_id=p["id"], cdt_name=SELF_CARE)
    assert rec["jsonBody"]["cdtf-unwind"] == "reading"
    # The seeder is a client of its own: records name it.
    assert p["createdByName"].startswith("API_CLIENT:")


def test_seeded_writes_queue_no_webhooks_unless_asked(emulator, emu_tenant_with_receiver, emu):
    env, client, _ = emu
    _, receiver = emu_tenant_with_receiver
    t = env.tenant
    assert emulator.webhook_mode(True).status_code == 200
    assert emulator.webhook_mode().json() == {"onDemand": True}
    receiver.received.clear()

    emulator.seed_ok(t, "sandbox", count=3, seed=77)
    time.sleep(1.0)  # give the worker every chance to fan out
    assert emulator.outbox_items(t, "sandbox", "webhooks") == []

    # Control: an API write does queue a delivery (so the outbox would show one).
    client.Patient(firstName="Hooked", lastName=uniq("W")).create()
    pending = _wait_for("the API write's delivery",
                        lambda: emulator.outbox_items(t, "sandbox", "webhooks"))
    assert len(pending) == 1
    assert pending[0]["webhookName"] == "wh-emu" and pending[0]["status"].lower() == "pending"
    assert receiver.received == [], "on demand: nothing is sent before deliver"
    assert emulator.clear_outbox(t, "sandbox", "webhooks").json() == {"cleared": 1}

    # webhooks: true
    emulator.seed_ok(t, "sandbox", count=2, seed=78, webhooks=True)
    seeded = {p["id"] for p in _patients(client) if (p["externalId"] or "").startswith("seed-78-")}
    assert len(seeded) == 2
    pending = _wait_for("the seeded deliveries",
                        lambda: len(emulator.outbox_items(t, "sandbox", "webhooks")) >= 2 and
                        emulator.outbox_items(t, "sandbox", "webhooks"))
    time.sleep(0.3)
    assert emulator.outbox_items(t, "sandbox", "webhooks") == pending, "nothing more, nothing sent"
    assert all(d["status"].lower() == "pending" for d in pending), pending
    assert {d["body"]["event"]["patientId"] for d in pending} == seeded
    assert {d["body"]["event"]["eventSubtype"] for d in pending} == {"PATIENT_CREATED"}
    assert {"id", "webhookName", "status", "attempts", "nextAttemptAt", "createdAt", "body"} <= set(pending[0])
    assert receiver.received == []

    delivered = emulator.deliver()
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["attempted"] == len(pending)
    _wait_for("the receiver", lambda: len(receiver.received) >= len(pending))
    time.sleep(0.2)
    assert len(receiver.received) == 2
    assert {b["patientId"] for b in receiver.received} == seeded
    assert all(b["eventSubtype"] == "PATIENT_CREATED" and b["tenantName"] == t
               for b in receiver.received)
    delivered = _wait_for("delivered statuses", lambda: all(
        d["status"].lower() != "pending" for d in emulator.outbox_items(t, "sandbox", "webhooks"))
        and emulator.outbox_items(t, "sandbox", "webhooks"))
    assert all(d["attempts"] >= 1 for d in delivered), delivered


# ===========================================================================
# outboxes
# ===========================================================================

def test_sms_outbox(emulator, emu):
    env, client, api = emu
    t = env.tenant
    line = "+15625345600"
    r = api.post("sandbox/communication-ids", json={"channel": "SMS", "value": line})
    assert r.status_code in (201, 409), r.text
    p = client.Patient(firstName="Tex", lastName=uniq("Sms"), phone="+15555550123").create()
    sent = api.post(f"sandbox/patients/{p['id']}/sms", json={"message": "Hi there", "sendNow": True})
    assert sent.status_code == 201, sent.text

    [item] = emulator.outbox_items(t, "sandbox", "sms")
    assert {"id", "smsId", "from", "to", "message", "queuedAt"} <= set(item)
    assert (item["smsId"], item["from"], item["to"], item["message"]) == (
        sent.json()["id"], line, "+15555550123", "Hi there")
    assert support.TS_RE.match(item["queuedAt"])

    assert emulator.clear_outbox(t, "sandbox", "sms").json() == {"cleared": 1}
    assert emulator.outbox_items(t, "sandbox", "sms") == []
    assert emulator.clear_outbox(t, "sandbox", "sms").json() == {"cleared": 0}


def test_email_outbox(emulator, emu):
    env, client, api = emu
    t = env.tenant
    address = f"{uniq('p')}@example.org"
    username = uniq("u")
    user = client.User(username=username, email=f"{username}@example.com",
                       firstName="Nick", lastName="Snow").create()
    p = client.Patient(firstName="Em", lastName=uniq("Mail"), email=address,
                       careTeam=[{"id": user["id"], "pointOfContact": True}]).create()
    sent = api.post(f"sandbox/patients/{p['id']}/emails",
                    json={"subject": "Hello", "body": "Welcome aboard", "sendNow": True})
    assert sent.status_code == 201, sent.text

    [item] = emulator.outbox_items(t, "sandbox", "email")
    assert {"id", "emailId", "to", "queuedAt", "message"} <= set(item)
    assert item["emailId"] == sent.json()["id"]
    assert address in str(item["to"])
    assert "Welcome aboard" in str(item["message"])

    assert emulator.clear_outbox(t, "sandbox", "email").json() == {"cleared": 1}
    assert emulator.outbox_items(t, "sandbox", "email") == []


def test_chat_outbox_has_messages_to_patients_and_clearing_keeps_the_conversation(emulator, emu):
    env, client, api = emu
    t = env.tenant
    p = client.Patient(firstName="Chat", lastName=uniq("Ty")).create()
    client.Chat(message="from the patient").create(p["id"])
    out = api.post(f"sandbox/patients/{p['id']}/chat/messages", json={"body": "from the team"})
    assert out.status_code == 201, out.text

    [item] = emulator.outbox_items(t, "sandbox", "chat")
    assert {"id", "patientId", "senderType", "sentAt", "message"} <= set(item)
    assert item["patientId"] == p["id"]
    assert item["message"]["message"] == "from the team"
    assert item["message"]["id"] == item["id"] == out.json()["id"]
    assert item["senderType"] == "API_CLIENT"
    assert support.TS_RE.match(item["sentAt"])

    assert emulator.clear_outbox(t, "sandbox", "chat").json() == {"cleared": 1}
    assert emulator.outbox_items(t, "sandbox", "chat") == []
    assert sorted(c["message"] for c in client.Chats().get(p["id"])) == ["from the patient", "from the team"]


def test_unknown_outbox_and_foreign_tokens_are_refused(emulator, emu):
    env, _, api = emu
    # Faxes have an outbox of their own; a kind the emulator does not know has none.
    assert emulator.outbox(env.tenant, "sandbox", "fax").status_code == 200
    first = assert_error(emulator.outbox(env.tenant, "sandbox", "pager"), 404)
    assert first["componentType"] == "EMULATOR"
    assert_error(emulator.clear_outbox(env.tenant, "sandbox", "pager"), 404)
    r = requests.get(f"{env.base}/_emulator/tenants/{env.tenant}/instances/sandbox/outbox/sms",
                     headers={"Authorization": api.session.headers["Authorization"]}, timeout=RAW_TIMEOUT)
    assert_error(r, 401)
    r = requests.post(f"{env.base}/_emulator/tenants/{env.tenant}/instances/sandbox/reset",
                      timeout=RAW_TIMEOUT)
    assert_error(r, 401)
