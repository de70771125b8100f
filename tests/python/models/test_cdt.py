"""CDT records, driven through the real welkin client (`CDT`, `CDTs`).

The tenant has the designer fixture (crates/openwelkin/tests/fixtures/designer)
published by conftest.py: cdt-self-care {cdtf-alone-time: select Yes/No,
cdtf-unwind: text}, cdt-vitals, cdt-intake (SINGLE_RECORD, `reason` required),
cdt-diagnosis, cdt-phq-2.

Expected shapes are those of the recorded Welkin responses (cassettes
test_cdt_create / test_cdt_update / test_cdt_bulk_update / test_cdt_delete /
test_all_cdts_patient_read), written out here.
"""

import datetime
import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from welkin.exceptions import WelkinHTTPError
from welkin.models.cdt import CDT as CDTModel

from parity import covers
from support import TS_RE, assert_error, capped, uniq

SELF_CARE = "cdt-self-care"

# Envelope of one record: exactly these keys (create, read, update, list items).
RECORD_KEYS = {"id", "patientId", "cdtId", "version", "jsonBody", "cdtName"}

# Keys Welkin puts into every record's jsonBody besides the CDT's own fields.
SYSTEM_FIELDS = {
    "id", "created_at", "created_by", "created_by_name", "updated_at", "updated_by",
    "updated_by_name", "source_type", "source_name", "source_id", "external_id",
    "external_guid",
}
SELF_CARE_FIELDS = {"cdtf-alone-time", "cdtf-unwind"}

# A bulk update answers {rows: [...]}, each row exactly these keys.
BULK_ROW_KEYS = {"id", "jsonBody", "result"}


@pytest.fixture
def patient_id(client):
    """A fresh patient, so record counts in a test are its own."""
    return client.Patient(firstName="Cdt", lastName=uniq("Rec")).create()["id"]


def _path(ow, patient_id, cdt=SELF_CARE, record_id=None):
    path = f"/{ow.tenant}/sandbox/patients/{patient_id}/cdts/{cdt}"
    return f"{path}/{record_id}" if record_id else path


def _sent(recorder):
    """JSON body of the last request the client sent."""
    body = recorder.responses[-1].request.body
    return json.loads(body) if body else None


def _query(recorder, index=-1):
    return parse_qs(urlsplit(recorder.responses[index].request.url).query)


def _new(client, patient_id, cdt=SELF_CARE, **fields):
    return client.CDT(cdtName=cdt, **fields).create(patient_id)


def _all(client, patient_id, cdt=SELF_CARE, cap=500, **kwargs):
    return list(capped(
        client.CDTs().get(patient_id=patient_id, cdt_name=cdt, paginate=True, **kwargs), cap))


def _formation_id(client, cdt):
    return client.Formation(version="current").CDT(name=cdt).get()["id"]


# --------------------------------------------------------------------------
# create / read / update / delete
# --------------------------------------------------------------------------

@covers("CDT.create")
def test_create_record_shape(ow, client, recorder, patient_id):
    rec = client.CDT(cdtName=SELF_CARE, **{"cdtf-alone-time": "Yes"}).create(patient_id)

    assert recorder.last("POST") == ("POST", _path(ow, patient_id), 201)
    # The client posts the model itself, cdtName included (as recorded).
    assert _sent(recorder) == {"cdtName": SELF_CARE, "cdtf-alone-time": "Yes"}
    body = recorder.responses[-1].json()
    assert set(body) == RECORD_KEYS, body
    uuid.UUID(body["id"])
    uuid.UUID(body["cdtId"])
    assert body["patientId"] == patient_id
    assert body["cdtName"] == SELF_CARE
    assert body["version"] == 1
    assert type(body["version"]) is int

    jb = body["jsonBody"]
    assert set(jb) == SYSTEM_FIELDS | SELF_CARE_FIELDS, sorted(jb)
    assert jb["id"] == body["id"]
    assert jb["cdtf-alone-time"] == "Yes"
    assert jb["cdtf-unwind"] is None
    assert jb["created_by_name"] == f"API_CLIENT:{ow.client_name}"
    assert jb["updated_by_name"] == f"API_CLIENT:{ow.client_name}"
    assert isinstance(jb["created_by"], str) and jb["created_by"]
    assert jb["updated_by"] == jb["created_by"]
    assert TS_RE.match(jb["created_at"]), jb["created_at"]
    assert jb["updated_at"] == jb["created_at"]
    for key in ("source_type", "source_name", "source_id", "external_id", "external_guid"):
        assert jb[key] is None, (key, jb[key])

    # The model is the sent fields updated with the response.
    assert isinstance(rec, CDTModel)
    assert {k: rec[k] for k in RECORD_KEYS} == body
    # cdtId is the id of the CDT's formation object.
    assert body["cdtId"] == _formation_id(client, SELF_CARE)


@covers("CDT.create", "CDT.get")
def test_read_record_by_id(ow, client, recorder, patient_id):
    created = _new(client, patient_id, **{"cdtf-alone-time": "No", "cdtf-unwind": "walk"})
    created_body = recorder.responses[-1].json()

    fetched = client.CDT(cdtName=SELF_CARE, id=created["id"]).get(patient_id)

    assert recorder.last() == ("GET", _path(ow, patient_id, record_id=created["id"]), 200)
    assert recorder.responses[-1].json() == created_body
    assert dict(fetched) == created_body

    # Without an argument the patient id is taken from the model's patientId.
    again = client.CDT(cdtName=SELF_CARE, id=created["id"], patientId=patient_id).get()
    assert recorder.last() == ("GET", _path(ow, patient_id, record_id=created["id"]), 200)
    assert dict(again) == created_body


@covers("CDT.get")
def test_read_unknown_record_is_404(client, patient_id):
    with pytest.raises(WelkinHTTPError) as exc_info:
        client.CDT(cdtName=SELF_CARE, id=str(uuid.uuid4())).get(patient_id)

    err = assert_error(exc_info.value.response, 404, "DT_RECORD_NOT_FOUND")
    assert err["componentType"] == "CDT"


@covers("CDT.create", "CDT.get", "CDT.update")
def test_update_record(ow, client, recorder, patient_id):
    rec = _new(client, patient_id, **{"cdtf-alone-time": "Yes", "cdtf-unwind": "read"})
    before = recorder.responses[-1].json()["jsonBody"]

    rec.update(**{"cdtf-alone-time": "No"})

    assert recorder.last() == ("PATCH", _path(ow, patient_id, record_id=rec["id"]), 200)
    # PATCH bodies are the jsonBody keys, not nested.
    assert _sent(recorder) == {"cdtf-alone-time": "No"}
    body = recorder.responses[-1].json()
    assert set(body) == RECORD_KEYS, body
    jb = body["jsonBody"]
    assert set(jb) == SYSTEM_FIELDS | SELF_CARE_FIELDS, sorted(jb)
    assert jb["cdtf-alone-time"] == "No"
    assert jb["cdtf-unwind"] == "read", "fields not sent are kept"
    assert jb["created_at"] == before["created_at"]
    assert TS_RE.match(jb["updated_at"]), jb["updated_at"]
    assert jb["updated_at"] >= before["updated_at"]
    assert jb["updated_by_name"] == f"API_CLIENT:{ow.client_name}"
    assert (body["id"], body["patientId"], body["cdtName"], body["version"]) == (
        rec["id"], patient_id, SELF_CARE, 1)
    assert rec["jsonBody"]["cdtf-alone-time"] == "No"

    again = client.CDT(cdtName=SELF_CARE, id=rec["id"]).get(patient_id)
    assert again["jsonBody"] == jb


@covers("CDT.create", "CDT.delete", "CDT.get", "CDTs.get")
def test_delete_record(ow, client, recorder, patient_id):
    keep = _new(client, patient_id, **{"cdtf-unwind": "keep"})
    gone = _new(client, patient_id, **{"cdtf-unwind": "gone"})

    gone.delete()

    assert recorder.last() == ("DELETE", _path(ow, patient_id, record_id=gone["id"]), 200)
    assert recorder.responses[-1].content == b"", "recorded: 200 with an empty body"

    with pytest.raises(WelkinHTTPError) as exc_info:
        client.CDT(cdtName=SELF_CARE, id=gone["id"]).get(patient_id)
    err = assert_error(exc_info.value.response, 404, "DT_RECORD_NOT_FOUND")
    assert err["componentType"] == "CDT"

    assert [r["id"] for r in _all(client, patient_id)] == [keep["id"]]

    with pytest.raises(WelkinHTTPError) as exc_info:
        client.CDT(cdtName=SELF_CARE, id=gone["id"]).delete(patient_id)
    assert_error(exc_info.value.response, 404, "DT_RECORD_NOT_FOUND")


# --------------------------------------------------------------------------
# lists
# --------------------------------------------------------------------------

@covers("CDT.create", "CDTs.get")
def test_list_records_paginates(ow, client, recorder, patient_id):
    created = [_new(client, patient_id, **{"cdtf-unwind": f"r{i:02d}"})["id"]
               for i in range(25)]
    recorder.clear()

    seen = _all(client, patient_id)

    ids = [r["id"] for r in seen]
    assert len(ids) == 25, ids
    assert sorted(ids) == sorted(created), "each record exactly once"
    gets = [c for c in recorder.calls if c[0] == "GET"]
    assert gets == [
        ("GET", _path(ow, patient_id) + "?page=0", 200),
        ("GET", _path(ow, patient_id) + "?page=1", 200),
    ]
    first = recorder.responses[0].json()
    assert set(first) == {"name", "data"}, first.keys()
    assert first["name"] == SELF_CARE
    data = first["data"]
    assert {"content", "pageable", "last", "totalElements", "totalPages", "first", "number",
            "sort", "numberOfElements", "size", "empty"} <= set(data), data.keys()
    assert (data["totalElements"], data["totalPages"], data["numberOfElements"], data["size"],
            data["last"], data["first"]) == (25, 2, 20, 20, False, True)
    assert data["pageable"]["pageNumber"] == 0
    second = recorder.responses[1].json()["data"]
    assert (second["numberOfElements"], second["last"], second["pageable"]["pageNumber"]) == (
        5, True, 1)

    for r in seen:
        assert isinstance(r, CDTModel)
        assert set(r) == RECORD_KEYS, dict(r)
        assert set(r["jsonBody"]) == SYSTEM_FIELDS | SELF_CARE_FIELDS
        assert (r["patientId"], r["cdtName"]) == (patient_id, SELF_CARE)

    # Without paginate the client stops after one page of 20.
    page = client.CDTs().get(patient_id=patient_id, cdt_name=SELF_CARE)
    assert len(page) == 20
    assert len({r["id"] for r in page}) == 20


@covers("CDTs.get")
def test_list_records_of_a_patient_without_any(client, patient_id):
    assert _all(client, patient_id) == []


@covers("CDT.create", "CDTs.get")
def test_list_fields_projection(client, recorder, patient_id):
    _new(client, patient_id, **{"cdtf-alone-time": "Yes", "cdtf-unwind": "tea"})
    recorder.clear()

    only = _all(client, patient_id, fields=["cdtf-unwind"])

    assert _query(recorder, 0)["fields"] == ["cdtf-unwind"]
    assert len(only) == 1
    assert set(only[0]) == RECORD_KEYS
    jb = only[0]["jsonBody"]
    assert jb["cdtf-unwind"] == "tea"
    assert "cdtf-alone-time" not in jb, jb

    recorder.clear()
    both = _all(client, patient_id, fields=["cdtf-unwind", "cdtf-alone-time"])
    assert _query(recorder, 0)["fields"] == ["cdtf-unwind,cdtf-alone-time"]
    assert (both[0]["jsonBody"]["cdtf-unwind"], both[0]["jsonBody"]["cdtf-alone-time"]) == (
        "tea", "Yes")


@covers("CDT.create", "CDTs.get")
def test_list_sort(client, recorder, patient_id):
    for value in ("b", "c", "a"):
        _new(client, patient_id, **{"cdtf-unwind": value})
    recorder.clear()

    desc = _all(client, patient_id, sort="cdtf-unwind,desc")
    asc = _all(client, patient_id, sort="cdtf-unwind,asc")

    assert _query(recorder, 0)["sort"] == ["cdtf-unwind,desc"]
    assert [r["jsonBody"]["cdtf-unwind"] for r in desc] == ["c", "b", "a"]
    assert [r["jsonBody"]["cdtf-unwind"] for r in asc] == ["a", "b", "c"]


@covers("CDT.create", "CDTs.get")
def test_list_date_range(client, recorder, patient_id):
    early = _new(client, patient_id, **{"cdtf-unwind": "early"})
    time.sleep(0.05)
    middle = datetime.datetime.now(datetime.timezone.utc)
    time.sleep(0.05)
    late = _new(client, patient_id, **{"cdtf-unwind": "late"})
    day = datetime.timedelta(days=1)
    recorder.clear()

    after = _all(client, patient_id, date_start=middle)

    stamp = _query(recorder, 0)["dateStart"][0]
    assert TS_RE.match(stamp), stamp
    assert [r["id"] for r in after] == [late["id"]]
    assert [r["id"] for r in _all(client, patient_id, date_end=middle)] == [early["id"]]
    both = _all(client, patient_id, date_start=middle - day, date_end=middle + day)
    assert sorted(r["id"] for r in both) == sorted([early["id"], late["id"]])
    assert _all(client, patient_id, date_start=middle + day) == []


@covers("CDT.create", "CDTs.get")
def test_list_filters_as_the_client_sends_them(client, recorder, patient_id):
    # The client passes `filters` to requests as is: a dict becomes the
    # repeated bare field names, which keep the records where the field is set.
    with_value = _new(client, patient_id, **{"cdtf-unwind": "set"})
    _new(client, patient_id, **{"cdtf-alone-time": "No"})
    recorder.clear()

    found = _all(client, patient_id, filters={"cdtf-unwind": "set"})

    assert _query(recorder, 0)["filters"] == ["cdtf-unwind"]
    assert [r["id"] for r in found] == [with_value["id"]]


@covers("CDTs.get")
def test_list_rejects_unknown_fields(client, patient_id):
    for kwargs in ({"sort": "cdtf-colour,asc"}, {"fields": ["cdtf-colour"]}):
        with pytest.raises(WelkinHTTPError) as exc_info:
            _all(client, patient_id, **kwargs)
        assert_error(exc_info.value.response, 400)


# --------------------------------------------------------------------------
# bulk update
# --------------------------------------------------------------------------

@covers("CDT.create", "CDT.get", "CDTs.update")
def test_bulk_update(ow, client, recorder, patient_id):
    a = _new(client, patient_id, **{"cdtf-alone-time": "No", "cdtf-unwind": "a"})
    b = _new(client, patient_id, **{"cdtf-alone-time": "No", "cdtf-unwind": "b"})
    rows = [{"id": r["id"], "jsonBody": {"cdtf-alone-time": "Yes"}} for r in (a, b)]
    recorder.clear()

    result = client.CDTs().update(patient_id=patient_id, cdt_name=SELF_CARE, body={"rows": rows})

    # As recorded: a PATCH of the list path with ?page=0 (the client's paging).
    assert recorder.calls == [("PATCH", _path(ow, patient_id) + "?page=0", 200)]
    assert _sent(recorder) == {"rows": rows}
    raw = recorder.responses[-1].json()
    assert set(raw) == {"rows"}, raw
    assert [row["id"] for row in raw["rows"]] == [a["id"], b["id"]]
    for row, before in zip(raw["rows"], (a, b)):
        assert set(row) == BULK_ROW_KEYS, row
        assert row["result"] == {"status": "OK", "content": None}, row
        jb = row["jsonBody"]
        assert set(jb) == SYSTEM_FIELDS | SELF_CARE_FIELDS, sorted(jb)
        assert jb["id"] == before["id"]
        assert jb["cdtf-alone-time"] == "Yes"
        assert jb["cdtf-unwind"] == before["jsonBody"]["cdtf-unwind"]
        assert jb["created_at"] == before["jsonBody"]["created_at"]
        assert jb["updated_at"] >= before["jsonBody"]["updated_at"]

    # The client returns the rows as CDT models.
    assert [r["id"] for r in result] == [a["id"], b["id"]]
    assert all(isinstance(r, CDTModel) for r in result)
    assert [r["result"]["status"] for r in result] == ["OK", "OK"]

    for before in (a, b):
        again = client.CDT(cdtName=SELF_CARE, id=before["id"]).get(patient_id)
        assert again["jsonBody"]["cdtf-alone-time"] == "Yes"


@covers("CDT.create", "CDTs.get", "CDTs.update")
def test_bulk_update_refuses_rows_one_by_one(client, recorder, patient_id):
    a = _new(client, patient_id, **{"cdtf-alone-time": "No"})
    b = _new(client, patient_id, **{"cdtf-alone-time": "No"})
    missing = str(uuid.uuid4())
    rows = [
        {"id": a["id"], "jsonBody": {"cdtf-alone-time": "Yes"}},
        {"id": b["id"], "jsonBody": {"cdtf-alone-time": "Sometimes"}},
        {"id": missing, "jsonBody": {"cdtf-alone-time": "Yes"}},
    ]

    client.CDTs().update(patient_id=patient_id, cdt_name=SELF_CARE, body={"rows": rows})

    out = recorder.responses[-1].json()["rows"]
    assert [r["result"]["status"] for r in out] == ["OK", "ERROR", "ERROR"]
    assert out[1]["result"]["content"]["errorCode"] == "VALIDATION_ERROR"
    assert out[2]["result"]["content"]["errorCode"] == "DT_RECORD_NOT_FOUND"
    values = {r["id"]: r["jsonBody"]["cdtf-alone-time"] for r in _all(client, patient_id)}
    assert values == {a["id"]: "Yes", b["id"]: "No"}, "the refused row is unchanged"


# --------------------------------------------------------------------------
# schema checks: nothing is stored
# --------------------------------------------------------------------------

@covers("CDT.create", "CDTs.get")
@pytest.mark.parametrize("cdt,fields,named", [
    (SELF_CARE, {"cdtf-colour": "blue"}, "cdtf-colour"),
    (SELF_CARE, {"cdtf-alone-time": "Sometimes"}, "cdtf-alone-time"),
    (SELF_CARE, {"cdtf-alone-time": "Yes", "created_at": "2020-01-01T00:00:00.000Z"},
     "created_at"),
    ("cdt-vitals", {"weight": "heavy"}, "weight"),
    ("cdt-vitals", {"weight": 900}, "weight"),
    ("cdt-vitals", {"pain": 7}, "pain"),
    ("cdt-vitals", {"nurse-email": "not-an-email"}, "nurse-email"),
    ("cdt-intake", {"notes": "no reason given"}, "reason"),
])
def test_schema_breaking_create_is_refused_and_nothing_stored(
        ow, client, recorder, patient_id, cdt, fields, named):
    before = len(_all(client, patient_id, cdt))
    recorder.clear()

    with pytest.raises(WelkinHTTPError) as exc_info:
        client.CDT(cdtName=cdt, **fields).create(patient_id)

    assert recorder.last("POST") == ("POST", _path(ow, patient_id, cdt), 400)
    err = assert_error(exc_info.value.response, 400, "VALIDATION_ERROR")
    assert named in err["message"], err
    assert len(_all(client, patient_id, cdt)) == before, "nothing was stored"


@covers("CDT.create", "CDT.get", "CDT.update")
def test_schema_breaking_update_changes_nothing(client, patient_id):
    rec = _new(client, patient_id, **{"cdtf-alone-time": "Yes", "cdtf-unwind": "read"})

    with pytest.raises(WelkinHTTPError) as exc_info:
        rec.update(**{"cdtf-unwind": "nap", "cdtf-alone-time": "Maybe"})

    err = assert_error(exc_info.value.response, 400, "VALIDATION_ERROR")
    assert "cdtf-alone-time" in err["message"], err
    again = client.CDT(cdtName=SELF_CARE, id=rec["id"]).get(patient_id)
    assert (again["jsonBody"]["cdtf-alone-time"], again["jsonBody"]["cdtf-unwind"]) == (
        "Yes", "read")


@covers("CDT.create")
def test_unknown_cdt_is_404(client, patient_id):
    with pytest.raises(WelkinHTTPError) as exc_info:
        client.CDT(cdtName="cdt-nope", **{"x": 1}).create(patient_id)
    assert_error(exc_info.value.response, 404, "DT_NOT_FOUND")


@covers("CDT.create", "CDTs.get")
def test_single_record_cdt(client, patient_id):
    first = _new(client, patient_id, "cdt-intake", reason="checkup")
    assert first["jsonBody"]["reason"] == "checkup"
    assert first["jsonBody"]["notes"] is None

    with pytest.raises(WelkinHTTPError) as exc_info:
        _new(client, patient_id, "cdt-intake", reason="again")

    assert_error(exc_info.value.response, 409, "DT_RECORD_ALREADY_EXISTS")
    assert [r["id"] for r in _all(client, patient_id, "cdt-intake")] == [first["id"]]
