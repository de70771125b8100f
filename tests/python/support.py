"""Helpers shared by the black-box tests. Imported by conftest.py only after
the welkin token cache has been redirected to a private TMPDIR."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

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
