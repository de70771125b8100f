"""Helpers shared by the black-box tests. Imported by conftest.py only after
the welkin token cache has been redirected to a private TMPDIR."""

from __future__ import annotations

import datetime
import json
import re
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from welkin import Client
from welkin.exceptions import WelkinHTTPError  # noqa: F401  (re-exported)
from welkin.util import _build_resources

# UTC, milliseconds, `Z`: 2022-05-11T18:37:06.700Z
TS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ERROR_KEYS = {"errorCode", "componentType", "message", "details", "date"}
RAW_TIMEOUT = 10


@dataclass(frozen=True)
class Env:
    base: str          # http://127.0.0.1:PORT
    tenant: str
    client_name: str
    client_secret: str
    ro_name: str       # API client whose policy only reads patients
    ro_secret: str
    database: str
    emulator_token: str  # bearer token of the /_emulator/ controls

    def url(self, path: str) -> str:
        """Absolute URL of a path relative to the tenant root."""
        return f"{self.base}/{self.tenant}/{path.lstrip('/')}"

    def host(self) -> str:
        return f"{self.base}/{self.tenant}/"  # trailing slash matters for urljoin


def uniq(prefix: str = "") -> str:
    return prefix + secrets.token_hex(6)


# --------------------------------------------------------------------------
# welkin client handling
#
# Two pieces of global state in welkin 0.1.12 matter here:
#  * Client.__init__ binds every model class (Patient, Users, ...) to that
#    client through a *class* attribute, so the last Client built wins;
#  * the token cache is a shelve keyed by tenant only, so two API clients of
#    one tenant overwrite each other's token.
#  * likewise Formation(version) binds the formation classes (CDT, Programs,
#    ...) to the last Formation built, so build one right before using it.
# `activate` restores the first two for a given client.
# --------------------------------------------------------------------------

# tenant -> api client name whose token is currently in the shelve cache
_TOKEN_OWNER: dict[str, str] = {}


def make_client(env: Env, name: str, secret: str, instance: str = "sandbox") -> Client:
    # total=0: no urllib3 retries, so a 5xx fails fast instead of backing off.
    c = Client(tenant=env.tenant, instance=instance, api_client=name,
               secret_key=secret, total=0)
    c.host = env.host()

    fetch = c.auth.token_method

    def fetch_and_record():
        token = fetch()
        _TOKEN_OWNER[env.tenant] = name
        return token

    c.auth.token_method = fetch_and_record
    return activate(c)


def activate(c: Client) -> Client:
    """Bind welkin's model classes to `c` and make sure the cached token of
    the tenant belongs to `c`'s API client."""
    _build_resources(c, "_client")
    owner = _TOKEN_OWNER.get(c.auth.tenant)
    if owner is not None and owner != c.auth.api_client:
        c.auth.refresh_token()
    return c


class Recorder:
    """requests response hook: remembers (method, path_url, status)."""

    def __init__(self):
        self.calls = []
        self.responses = []

    def __call__(self, response, *args, **kwargs):
        self.calls.append((response.request.method, response.request.path_url,
                           response.status_code))
        self.responses.append(response)

    def last(self, method=None):
        for call in reversed(self.calls):
            if method is None or call[0] == method:
                return call
        raise AssertionError(f"no {method or ''} request recorded: {self.calls}")

    def clear(self):
        self.calls.clear()
        self.responses.clear()


# --------------------------------------------------------------------------
# raw HTTP
# --------------------------------------------------------------------------

def raw_token_response(env: Env, name: str, secret: str) -> requests.Response:
    return requests.post(env.url(f"admin/api_clients/{name}"),
                         json={"secret": secret}, timeout=RAW_TIMEOUT)


def raw_token(env: Env, name: str, secret: str) -> str:
    r = raw_token_response(env, name, secret)
    assert r.status_code in (200, 201), (r.status_code, r.text)
    return r.json()["token"]


class Raw:
    """Tiny wrapper around requests with a bearer token and tenant-relative paths."""

    def __init__(self, env: Env, token: str):
        self.env = env
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method, path, **kwargs):
        kwargs.setdefault("timeout", RAW_TIMEOUT)
        return self.session.request(method, self.env.url(path), **kwargs)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def patch(self, path, **kw):
        return self.request("PATCH", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


# --------------------------------------------------------------------------
# assertions
# --------------------------------------------------------------------------

def error_list(response) -> list:
    """The JSON error array of a requests.Response (asserting its shape)."""
    ctype = response.headers.get("Content-Type", "")
    assert "application/json" in ctype, (response.status_code, ctype, response.text)
    body = response.json()
    assert isinstance(body, list) and body, f"error body is not a non-empty array: {body!r}"
    for item in body:
        assert isinstance(item, dict), body
        assert "errorCode" in item, body
    return body


def assert_error(response, status: int, code: str | None = None, *, with_date=True) -> dict:
    """Assert a Welkin-style error response; return its first item."""
    assert response.status_code == status, (response.status_code, response.text)
    body = error_list(response)
    first = body[0]
    if code is not None:
        assert first["errorCode"] == code, body
    if with_date:
        missing = ERROR_KEYS - set(first)
        assert not missing, f"error item lacks {missing}: {first}"
        assert TS_RE.match(first["date"]), first
        assert isinstance(first["details"], dict), first
    return first


def items_of(body):
    """Items of a list response in any of the envelopes Welkin uses."""
    if isinstance(body, list):
        return body
    for key in ("content", "data", "rows"):
        if key in body:
            inner = body[key]
            if isinstance(inner, dict) and "content" in inner:
                return inner["content"]
            return inner
    raise AssertionError(f"no item list in {body!r}")


def capped(iterable, cap: int):
    """Iterate, failing instead of looping for ever when paging never stops."""
    for n, item in enumerate(iterable):
        if n >= cap:
            raise AssertionError(f"pagination yielded more than {cap} items; "
                                 "does the last page set its stop key?")
        yield item


# --------------------------------------------------------------------------
# helpers shared by the model scenarios (tests/python/models/)
# --------------------------------------------------------------------------

def sent_json(recorder: Recorder, index: int = -1):
    """JSON body of a request the client sent."""
    body = recorder.responses[index].request.body
    return json.loads(body) if body else None


def path_of(recorder: Recorder, index: int = -1) -> str:
    return urlsplit(recorder.responses[index].request.url).path


def query_of(recorder: Recorder, index: int = -1) -> dict:
    return parse_qs(urlsplit(recorder.responses[index].request.url).query)


def http_error(call) -> requests.Response:
    """Call `call`, which must raise WelkinHTTPError; return its response."""
    with pytest.raises(WelkinHTTPError) as exc_info:
        call()
    return exc_info.value.response


def plain(resource):
    """A welkin resource as the plain JSON it was built from."""
    return json.loads(json.dumps(resource))


def ids(items) -> list:
    return [i["id"] for i in items]


# Audit / system keys of every CDT-backed jsonBody (encounters, dispositions,
# assessment links, CDT and PDT records).
CDT_SYSTEM_FIELDS = frozenset({
    "id", "created_at", "created_by", "created_by_name", "updated_at", "updated_by",
    "updated_by_name", "source_type", "source_name", "source_id", "external_id",
    "external_guid",
})

# --- encounters (test_encounter, test_encounter_disposition, test_assessment) ---
# Designer fixture: encounter template `etmp-intake` ("Intake visit",
# assessmentNames [asm-phq-2]) and assessment `asm-phq-2` ("PHQ-2").
ENCOUNTER_TEMPLATE = "etmp-intake"
ENCOUNTER_TEMPLATE_TITLE = "Intake visit"
ENCOUNTER_ASSESSMENT = "asm-phq-2"
ENCOUNTER_ASSESSMENT_TITLE = "PHQ-2"
# Envelope of an encounter, a disposition and an assessment link: exactly these keys.
ENCOUNTER_RECORD_KEYS = frozenset({"id", "patientId", "cdtId", "version", "jsonBody", "cdtName"})


def encounter_path(env: Env, patient_id, encounter_id=None, full=False) -> str:
    path = f"/{env.tenant}/sandbox/patients/{patient_id}/"
    path += "full-encounters" if full else "encounters"
    return f"{path}/{encounter_id}" if encounter_id else path


def new_encounter(patient, **fields):
    """An encounter of the fixture template, created through the patient."""
    fields.setdefault("templateName", ENCOUNTER_TEMPLATE)
    return patient.Encounter(**fields).create()


def new_assessment_record(client, patient_id):
    return client.AssessmentRecord(assessmentName=ENCOUNTER_ASSESSMENT).create(patient_id)


# --- calendar (test_calendar_event, test_schedules, test_work_hours) ---

def calendar_user(client, tz="US/Pacific") -> str:
    """Id of a fresh care-team user, so schedules and searches are the test's own."""
    username = uniq("cal")
    return client.User(username=username, email=f"{username}@example.com", firstName="Sam",
                       lastName="Morgan", timezone=tz).create()["id"]


def utc_at(year, month, day, hour=0, minute=0) -> datetime.datetime:
    return datetime.datetime(year, month, day, hour, minute, tzinfo=datetime.timezone.utc)


def new_calendar_event(client, psm, start, hours=1, **fields):
    return client.CalendarEvent(
        startDateTime=start, endDateTime=start + datetime.timedelta(hours=hours), hostId=psm,
        participants=fields.pop("participants", [{"participantId": psm, "participantRole": "psm"}]),
        **fields,
    ).create()


def new_work_hours(api: Raw, psm, **extra) -> dict:
    """Work hours of `psm` over raw HTTP (the client has no create method)."""
    body = {"psmId": psm, "createdBy": psm, "startDateTime": "2031-01-01T00:00:00.000Z",
            "endDateTime": "2031-12-31T23:59:59.000Z",
            "daysInfo": [{"day": 1, "startTime": "09:00:00", "endTime": "18:00:00"},
                         {"day": 2, "startTime": "09:00:00", "endTime": "18:00:00"}]}
    body.update(extra)
    r = api.post("sandbox/calendar/work-hours", json=body)
    assert r.status_code == 201, r.text
    return r.json()


# Keys of a calendar event and of work hours (recorded Welkin responses).
CALENDAR_EVENT_KEYS = frozenset({
    "id", "createdBy", "createdAt", "updatedBy", "updatedAt", "externalId", "externalIdUpdatedAt",
    "eventTitle", "eventDescription", "startDateTime", "localStartDateTime", "endDateTime",
    "localEndDateTime", "allDayEvent", "duration", "eventType", "eventStatus", "eventMode",
    "eventColor", "hostId", "timezone", "additionalInfo", "participants",
})
WORK_HOURS_KEYS = frozenset({
    "workHoursId", "createdAt", "updatedAt", "createdBy", "updatedBy", "name", "type", "ruleType",
    "startDateTime", "endDateTime", "localStartDateTime", "localEndDateTime", "daysInfo",
})
