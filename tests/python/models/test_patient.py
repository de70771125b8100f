"""Patients, driven through the real welkin client (plus a few raw calls)."""

import datetime
import math
import uuid

import pytest
from welkin.exceptions import WelkinHTTPError

from parity import covers
from support import TS_RE, activate, assert_error, capped, error_list, items_of, uniq

PATIENT_KEYS = [
    "id", "externalGuid", "externalId", "mrn",
    "createdAt", "updatedAt", "createdBy", "updatedBy", "createdByName", "updatedByName",
    "firstName", "lastName", "middleName", "birthDate",
    "gender", "maritalStatus", "primaryLanguage", "secondaryLanguage",
    "email", "secondaryEmail", "phone", "secondaryPhone",
    "primaryPhoneCapabilities", "secondaryPhoneCapabilities",
    "country", "state", "city", "zip", "addressLine1", "addressLine2", "timezone",
    "patientTerritories", "careTeamMembers", "patientPrograms", "careTeam", "cadence",
    "patientRegion", "patientRegionTitle", "patientTerritory", "pointOfContact",
]

SPRING_PAGE_KEYS = {
    "content", "pageable", "last", "first", "number", "size", "numberOfElements",
    "totalElements", "totalPages", "sort", "empty",
}
PAGEABLE_KEYS = {"sort", "pageNumber", "pageSize", "offset", "paged", "unpaged"}
SORT_KEYS = {"sorted", "unsorted", "empty"}


def _status(exc_info):
    return exc_info.value.response.status_code


@covers("Patient.create")
def test_create_patient_shape(ow, client, recorder):
    p = client.Patient(firstName="Foo", lastName="Bar").create()

    assert recorder.last("POST") == ("POST", f"/{ow.tenant}/sandbox/patients", 201)
    missing = [k for k in PATIENT_KEYS if k not in p]
    assert not missing, f"missing keys {missing} in {dict(p)}"
    uuid.UUID(p["id"])
    assert p["firstName"] == "Foo"
    assert p["lastName"] == "Bar"
    assert p["gender"] == "UNKNOWN"
    assert p["maritalStatus"] == "UKN"
    assert p["primaryLanguage"] == "ENGLISH"
    for key in ("primaryPhoneCapabilities", "secondaryPhoneCapabilities",
                "patientTerritories", "careTeamMembers", "patientPrograms",
                "careTeam", "cadence"):
        assert p[key] == [], (key, p[key])
    for key in ("externalGuid", "externalId", "mrn", "middleName", "birthDate",
                "email", "phone", "timezone", "pointOfContact"):
        assert p[key] is None, (key, p[key])
    assert p["createdByName"] == f"API_CLIENT:{ow.client_name}"
    assert p["updatedByName"] == f"API_CLIENT:{ow.client_name}"
    assert TS_RE.match(p["createdAt"]), p["createdAt"]
    assert TS_RE.match(p["updatedAt"]), p["updatedAt"]


@covers("Patient.create", "Patient.get")
def test_create_patient_birthdate(client):
    p = client.Patient(firstName="happy", lastName=uniq("borf"),
                       birthDate=datetime.date(2022, 8, 9)).create()

    assert p["birthDate"] == "2022-08-09T00:00:00.000Z"
    again = client.Patient(id=p["id"]).get()
    assert again["birthDate"] == "2022-08-09T00:00:00.000Z"


@covers("Patient.create", "Patient.get")
def test_read_patient_by_id(ow, client, recorder):
    created = client.Patient(firstName="Read", lastName=uniq("ById")).create()

    fetched = client.Patient(id=created["id"]).get()

    assert recorder.last("GET") == (
        "GET", f"/{ow.tenant}/sandbox/patients/{created['id']}", 200)
    assert dict(fetched) == dict(created)


@covers("Patient.create", "Patient.get")
@pytest.mark.parametrize("key,kind", [
    ("externalId", "EID"),
    ("externalGuid", "EGUID"),
    ("mrn", "MRN"),
])
def test_read_patient_by_alternate_key(ow, client, recorder, key, kind):
    values = {
        "externalId": uniq("ext-"),
        "externalGuid": str(uuid.uuid4()),
        "mrn": uniq("mrn"),
    }
    created = client.Patient(firstName="Alt", lastName=uniq("Key"), **values).create()
    for k, v in values.items():
        assert created[k] == v

    fetched = client.Patient(**{key: values[key]}).get()

    assert recorder.last("GET") == (
        "GET", f"/{ow.tenant}/sandbox/patients/{values[key]}?type={kind}", 200)
    assert fetched["id"] == created["id"]
    assert fetched["lastName"] == created["lastName"]


@covers("Patient.get")
def test_read_patient_by_unknown_external_guid_is_404(client):
    with pytest.raises(WelkinHTTPError) as exc_info:
        client.Patient(externalGuid=str(uuid.uuid4())).get()

    assert_error(exc_info.value.response, 404, "PATIENT_NOT_FOUND")


@covers("Patient.create", "Patient.get", "Patient.update")
def test_update_patient(ow, client, recorder):
    p = client.Patient(firstName="Foo", lastName=uniq("Upd")).create()
    last_name = p["lastName"]

    p.update(firstName="Baz")

    assert recorder.last() == ("PATCH", f"/{ow.tenant}/sandbox/patients/{p['id']}", 200)
    assert p["firstName"] == "Baz"
    assert p["lastName"] == last_name
    assert TS_RE.match(p["updatedAt"]), p["updatedAt"]
    assert p["updatedAt"] >= p["createdAt"]
    again = client.Patient(id=p["id"]).get()
    assert again["firstName"] == "Baz"
    assert again["lastName"] == last_name


@covers("Patient.create")
def test_duplicate_external_id_is_conflict(client):
    ext = uniq("ext-dup-")
    client.Patient(firstName="One", lastName=uniq("Dup"), externalId=ext).create()

    with pytest.raises(WelkinHTTPError) as exc_info:
        client.Patient(firstName="Two", lastName=uniq("Dup"), externalId=ext).create()

    status = _status(exc_info)
    assert 400 <= status < 500, status
    assert status == 409, exc_info.value.response.text
    error_list(exc_info.value.response)


@covers("Patient.create", "Patients.get")
def test_paginate_all_patients(ow, client, api):
    marker = uniq("Page")
    created = [
        client.Patient(firstName=f"P{i:02d}", lastName=marker).create()["id"]
        for i in range(55)
    ]
    total = api.post("sandbox/by-filter/patients", params={"page": 0}, json={}).json()[
        "totalElements"]
    assert total >= 55

    seen = [p["id"] for p in capped(client.Patients().get(paginate=True), total + 100)]

    assert len(seen) >= 55
    assert len(seen) == total
    assert len(set(seen)) == len(seen), "a patient was returned twice"
    assert set(created) <= set(seen)

    # smaller pages walk the same set
    seen7 = [p["id"] for p in capped(client.Patients().get(paginate=True, size=7), total + 100)]
    assert sorted(seen7) == sorted(seen)

    # without paginate=True the client stops after one default page of 20
    first_page = client.Patients().get()
    assert len(first_page) == 20
    for p in first_page:
        assert p.__class__.__name__ == "Patient"


@covers("Patient.create")
def test_patient_page_raw_shape(ow, client, api):
    for i in range(21):  # make sure there is more than one page
        client.Patient(firstName=f"S{i}", lastName=uniq("Shape")).create()

    r = api.post("sandbox/by-filter/patients", params={"page": 0, "size": 20}, json={})

    assert r.status_code == 200, r.text
    body = r.json()
    assert SPRING_PAGE_KEYS <= set(body), sorted(body)
    assert PAGEABLE_KEYS <= set(body["pageable"]), body["pageable"]
    assert SORT_KEYS <= set(body["pageable"]["sort"]), body["pageable"]
    assert SORT_KEYS <= set(body["sort"]), body["sort"]
    total = body["totalElements"]
    assert total >= 21
    assert body["number"] == 0
    assert body["size"] == 20
    assert body["first"] is True
    assert body["last"] is False
    assert body["empty"] is False
    assert body["numberOfElements"] == len(body["content"]) == 20
    assert body["totalPages"] == math.ceil(total / 20)
    pageable = body["pageable"]
    assert pageable["pageNumber"] == 0
    assert pageable["pageSize"] == 20
    assert pageable["offset"] == 0
    assert pageable["paged"] is True
    assert pageable["unpaged"] is False
    for p in body["content"]:
        assert set(PATIENT_KEYS) <= set(p)

    last_index = body["totalPages"] - 1
    r = api.post("sandbox/by-filter/patients", params={"page": last_index, "size": 20}, json={})
    assert r.status_code == 200, r.text
    tail = r.json()
    assert tail["last"] is True
    assert tail["first"] is False
    assert tail["number"] == last_index
    assert tail["pageable"]["offset"] == last_index * 20
    assert tail["numberOfElements"] == len(tail["content"]) == total - last_index * 20

    r = api.post("sandbox/by-filter/patients", params={"page": last_index + 1, "size": 20},
                 json={})
    assert r.status_code == 200, r.text
    beyond = r.json()
    assert beyond["content"] == []
    assert beyond["empty"] is True
    assert beyond["numberOfElements"] == 0
    assert beyond["last"] is True


@covers("Patient.create", "Patient.delete", "Patient.get")
def test_delete_patient(ow, client, recorder):
    p = client.Patient(firstName="Gone", lastName=uniq("Del")).create()
    pid = p["id"]

    p.delete()

    method, path, status = recorder.last()
    assert (method, path) == ("DELETE", f"/{ow.tenant}/sandbox/patients/{pid}")
    assert 200 <= status < 300
    with pytest.raises(WelkinHTTPError) as exc_info:
        client.Patient(id=pid).get()
    assert_error(exc_info.value.response, 404, "PATIENT_NOT_FOUND")


def _count_by_query(api, marker):
    r = api.get("sandbox/patients", params={"query": marker})
    assert r.status_code == 200, r.text
    return sum(1 for p in items_of(r.json()) if p.get("lastName") == marker)


@covers("Patient.create")
def test_invalid_phone_is_rejected(ow, client, api):
    marker = uniq("Phone")
    before = _count_by_query(api, marker)

    with pytest.raises(WelkinHTTPError) as exc_info:
        client.Patient(firstName="Bad", lastName=marker, phone="+610403211111").create()

    response = exc_info.value.response
    assert response.status_code == 400, response.text
    error_list(response)
    assert _count_by_query(api, marker) == before

    # the query really finds patients with that name
    client.Patient(firstName="Good", lastName=marker).create()
    assert _count_by_query(api, marker) == before + 1


def test_unknown_field_is_400(ow, api):
    r = api.post("sandbox/patients", json={"firstName": "a", "lastName": "b", "shoeSize": 3})

    assert r.status_code == 400, r.text
    body = error_list(r)
    assert any("shoeSize" in str(item.get("message", "")) for item in body), body


@covers("Patient.create", "Patient.get", "Patients.get")
def test_instances_are_isolated(ow, client, live_client):
    activate(client)
    sandbox_patient = client.Patient(firstName="Sand", lastName=uniq("Iso")).create()

    activate(live_client)
    with pytest.raises(WelkinHTTPError) as exc_info:
        live_client.Patient(id=sandbox_patient["id"]).get()
    assert_error(exc_info.value.response, 404, "PATIENT_NOT_FOUND")

    live_patient = live_client.Patient(firstName="Live", lastName=uniq("Iso")).create()
    live_ids = {p["id"] for p in capped(live_client.Patients().get(paginate=True), 10_000)}
    assert live_patient["id"] in live_ids
    assert sandbox_patient["id"] not in live_ids

    activate(client)
    with pytest.raises(WelkinHTTPError) as exc_info:
        client.Patient(id=live_patient["id"]).get()
    assert_error(exc_info.value.response, 404, "PATIENT_NOT_FOUND")
