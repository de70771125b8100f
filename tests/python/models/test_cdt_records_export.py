"""Bulk export, driven through the real welkin client: `CDTRecordsExport` and the
client's cursor paging (`welkin.pagination.CursorIterator`: `pageSize` (+ `size`),
then `start=<cursor.end>` until `hasNext` is false).

The client ships a model for CDT_RECORD only; the other types are read with
collections built the same way as `welkin.models.export.CDTRecordsExport`.
The session's tenant is shared by every test file, so these tests check the
records they made and the paging, not totals.
"""

import pytest
from welkin.exceptions import WelkinHTTPError
from welkin.models.base import Collection, Resource
from welkin.pagination import CursorIterator

from parity import covers
from support import TS_RE, activate, capped, uniq

SELF_CARE = "cdt-self-care"

# Every export type the server lists (also in its 404 for an unknown type).
KNOWN_TYPES = [
    "PATIENT", "CDT_RECORD", "PDT_RECORD", "ASSESSMENT", "CALENDAR_EVENT", "EMAIL",
    "SMS", "ENCOUNTER", "ENCOUNTER_COMMENT", "ENCOUNTER_DISPOSITION", "TASK", "VOICE_CALL",
]


def export_collection(client, export_type):
    """A welkin collection for one export type, like the client's CDTRecordsExport."""

    class Export(Collection):
        resource = Resource
        iterator = CursorIterator

        def get(self, *args, **kwargs):
            return super().get(f"{self._client.instance}/export/{export_type}", *args, **kwargs)

    Export._client = client
    return Export()


def _queries(recorder):
    from urllib.parse import parse_qs, urlsplit

    return [parse_qs(urlsplit(r.request.url).query) for r in recorder.responses
            if "/export/" in r.request.url]


@pytest.fixture
def patient_with_records(client):
    patient = client.Patient(firstName="Ex", lastName=uniq("Port")).create()
    ids = [client.CDT(cdtName=SELF_CARE, **{"cdtf-unwind": f"walk {n}"}).create(patient["id"])["id"]
           for n in range(7)]
    return patient, ids


@covers("CDTRecordExport.<instance>", "CDTRecordsExport.get")
def test_cdt_records_export_pages_to_the_end(client, recorder, patient_with_records):
    patient, made = patient_with_records
    recorder.clear()
    records = list(capped(client.CDTRecordsExport().get(size=3, paginate=True), 100_000))
    ids = [r["id"] for r in records]
    assert len(ids) == len(set(ids)), "no record twice"
    for rid in made:
        assert rid in ids
    mine = [r for r in records if r["patientId"] == patient["id"]]
    assert [r["id"] for r in mine] == made, "in updatedAt order"
    for r in mine:
        assert {"id", "patientId", "cdtId", "version", "jsonBody", "cdtName", "updatedAt"} <= set(r)
        assert r["cdtName"] == SELF_CARE and TS_RE.match(r["updatedAt"])
        assert r["updatedAt"] == r["jsonBody"]["updated_at"]

    queries = _queries(recorder)
    assert len(queries) == max(1, -(-len(records) // 3)), "a full last page already says hasNext false"
    assert queries[0]["pageSize"] == ["3"] and queries[0]["size"] == ["3"] and "start" not in queries[0]
    pages = [r.json() for r in recorder.responses if "/export/" in r.request.url]
    for q, prev in zip(queries[1:], pages):
        assert q["start"] == [prev["cursor"]["end"]]
    assert pages[-1]["cursor"]["hasNext"] is False
    assert all(p["cursor"]["hasNext"] is True for p in pages[:-1])


@covers("CDTRecordExport.<instance>", "CDTRecordsExport.get")
def test_cdt_records_export_without_paginate_gives_one_collection(client, patient_with_records):
    _, made = patient_with_records
    got = client.CDTRecordsExport().get(size=1000)
    assert set(made) <= {r["id"] for r in got}
    assert all(isinstance(r, client.CDTRecordsExport.resource) for r in got)


@pytest.mark.parametrize("export_type", KNOWN_TYPES + [
    "PATIENT_PROGRAM", "ENCOUNTER_ASSESSMENT", "CARE_PLAN", "GOAL", "GOAL_COMMENT", "CHAT_MESSAGE",
    "CONTACT", "DOCUMENT_SUMMARY", "DOCUMENT_TYPE_RECORD", "USER", "DICTIONARY_RECORD", "WORK_HOURS",
    "EMAIL_DRAFT", "COMMUNICATION_ID", "MESSAGING_TEMPLATE", "COMMUNICATION", "PAYMENT_METHOD",
    "SUBSCRIPTION", "INVOICE", "PAYMENT",
])
def test_every_type_pages_to_the_end(client, api, export_type):
    if export_type == "PATIENT":
        client.Patient(firstName="Every", lastName=uniq("Type")).create()
    # Other test files' background work (deliveries) may change a record between the
    # two reads; then both are read again.
    for _ in range(3):
        records = list(capped(export_collection(client, export_type).get(size=2, paginate=True), 100_000))
        one_page = api.get(f"sandbox/export/{export_type}", params={"pageSize": 1000}).json()
        assert one_page["cursor"]["hasNext"] is False
        paged_ids = [r["id"] for r in records]
        if paged_ids == [r["id"] for r in one_page["data"]]:
            break
    assert paged_ids == [r["id"] for r in one_page["data"]], "small pages give what one page gives"
    assert len(paged_ids) == len(set(paged_ids))
    stamps = [r["updatedAt"] for r in records]
    assert stamps == sorted(stamps)
    if export_type in ("PATIENT", "DICTIONARY_RECORD"):
        assert records, f"{export_type} has records in this tenant"


def test_patients_export_returns_what_patient_get_returns(client):
    made = client.Patient(firstName="Same", lastName=uniq("Shape")).create()
    exported = {r["id"]: r for r in export_collection(client, "PATIENT").get(size=1000, paginate=True)}
    fetched = client.Patient(id=made["id"]).get()
    assert dict(exported[made["id"]]) == dict(fetched)


@covers("CDTRecordsExport.get")
def test_export_needs_the_policy(ow, ro_client, client):
    # The read-only client may read patients but not export them.
    activate(ro_client)
    with pytest.raises(WelkinHTTPError) as err:
        ro_client.CDTRecordsExport().get(size=10)
    assert err.value.response.status_code == 403
    assert err.value.response.json()[0]["errorCode"] == "ACCESS_FOR_API_CLIENT_RESTRICTED"
    with pytest.raises(WelkinHTTPError) as err:
        list(export_collection(ro_client, "PATIENT").get(size=10, paginate=True))
    assert err.value.response.status_code == 403
    activate(client)


def test_unknown_types_and_bad_cursors_are_refused(api):
    r = api.get("sandbox/export/SPACESHIP")
    assert r.status_code == 404
    assert r.json()[0]["errorCode"] == "EXPORT_TYPE_NOT_FOUND"
    assert set(KNOWN_TYPES) <= set(r.json()[0]["details"]["types"])
    r = api.get("sandbox/export/PATIENT", params={"start": "not a time"})
    assert r.status_code == 400 and r.json()[0]["errorCode"] == "INVALID_PARAMETER"
