"""Authentication and authorisation, driven through the real welkin client
and through raw HTTP."""

import os
import shelve
import uuid

import pytest
import requests
from portalocker import Lock
from welkin.authentication import DB_LOCK, DB_PATH
from welkin.exceptions import WelkinHTTPError

from support import (
    ERROR_KEYS,
    RAW_TIMEOUT,
    activate,
    assert_error,
    error_list,
    raw_token_response,
    uniq,
)


def _cache_get(tenant):
    with Lock(DB_LOCK), shelve.open(DB_PATH) as db:
        return db.get(tenant)


def _cache_drop(tenant):
    with Lock(DB_LOCK), shelve.open(DB_PATH) as db:
        db.pop(tenant, None)


def test_token_cache_is_isolated():
    # conftest must redirect welkin's shelve before welkin is imported.
    assert DB_PATH.startswith(os.environ["TMPDIR"]), DB_PATH


def test_first_call_fetches_token_and_succeeds(ow, client, recorder):
    _cache_drop(ow.tenant)

    patients = client.Patients().get()

    assert isinstance(patients, list)
    method, path, status = recorder.calls[0]
    assert (method, path) == ("POST", f"/{ow.tenant}/admin/api_clients/{ow.client_name}")
    assert status in (200, 201)
    assert recorder.calls[-1][0:2] == ("POST", f"/{ow.tenant}/sandbox/by-filter/patients?page=0")
    assert recorder.calls[-1][2] == 200
    cached = _cache_get(ow.tenant)
    assert isinstance(cached, dict) and cached.get("token"), cached


def test_token_endpoint_raw(ow):
    r = raw_token_response(ow, ow.client_name, ow.client_secret)

    assert r.status_code == 201, r.text
    assert "application/json" in r.headers.get("Content-Type", "")
    body = r.json()
    assert isinstance(body, dict), body
    for key in ("token", "clientName", "enabled"):
        assert key in body, body
    assert isinstance(body["token"], str) and body["token"]
    assert body["clientName"] == ow.client_name
    assert body["enabled"] is True


def test_token_wrong_secret_is_401(ow):
    r = raw_token_response(ow, ow.client_name, ow.client_secret + "x")

    assert r.status_code == 401, r.text
    body = error_list(r)
    assert ERROR_KEYS <= set(body[0]), body


def test_garbage_bearer_token_is_401_not_valid_jwt(ow):
    r = requests.get(
        ow.url(f"sandbox/patients/{uuid.uuid4()}"),
        headers={"Authorization": "Bearer not.a.jwt"},
        timeout=RAW_TIMEOUT,
    )

    first = assert_error(r, 401, "NOT_VALID_JSON_WEB_TOKEN")
    assert first["componentType"] == "AUTH"


def test_missing_bearer_token_is_401(ow):
    r = requests.get(ow.url(f"sandbox/patients/{uuid.uuid4()}"), timeout=RAW_TIMEOUT)

    assert r.status_code == 401, r.text
    error_list(r)


def _assert_restricted(exc_info, ow, request_uri):
    response = exc_info.value.response
    assert response.status_code == 403, response.text
    body = error_list(response)
    first = body[0]
    assert first["errorCode"] == "ACCESS_FOR_API_CLIENT_RESTRICTED", body
    assert first["componentType"] == "AUTH", body
    assert isinstance(first["message"], str) and first["message"], body
    details = first["details"]
    assert set(details) >= {"clientId", "clientName", "clientType",
                            "organizationName", "requestURI"}, details
    assert details["clientName"] == ow.ro_name
    assert details["clientType"] == "API_CLIENT"
    assert details["clientId"]
    assert details["organizationName"] == ow.tenant
    assert details["requestURI"] == request_uri


def test_read_only_client_cannot_create_patient(ow, ro_client):
    activate(ro_client)

    with pytest.raises(WelkinHTTPError) as exc_info:
        ro_client.Patient(firstName="Ro", lastName=uniq("Denied")).create()

    _assert_restricted(exc_info, ow, f"/{ow.tenant}/sandbox/patients")


def test_read_only_client_cannot_list_users(ow, ro_client):
    activate(ro_client)

    with pytest.raises(WelkinHTTPError) as exc_info:
        ro_client.Users().get()

    _assert_restricted(exc_info, ow, f"/{ow.tenant}/admin/users")


def test_read_only_client_can_read_patient(ow, client, ro_client):
    activate(client)
    created = client.Patient(firstName="Readable", lastName=uniq("Ro")).create()

    activate(ro_client)
    fetched = ro_client.Patient(id=created.id).get()

    assert fetched["id"] == created.id
    assert fetched["lastName"] == created.lastName


def test_garbage_cached_token_is_refreshed(ow, client, recorder):
    client.auth.token = {"token": "garbage"}  # what the shelve cache holds
    assert _cache_get(ow.tenant) == {"token": "garbage"}

    patients = client.Patients().get()

    assert isinstance(patients, list)
    assert [c[2] for c in recorder.calls][:1] == [401], recorder.calls
    rejected = recorder.responses[0]
    assert_error(rejected, 401, "NOT_VALID_JSON_WEB_TOKEN")
    assert recorder.calls[1][0:2] == ("POST", f"/{ow.tenant}/admin/api_clients/{ow.client_name}")
    assert recorder.calls[1][2] in (200, 201)
    assert recorder.calls[-1][2] == 200
    assert len(recorder.calls) == 3, recorder.calls
    assert _cache_get(ow.tenant)["token"] != "garbage"
