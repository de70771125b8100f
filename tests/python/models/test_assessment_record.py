"""Assessment records, driven through the real welkin client (`AssessmentRecord`,
`AssessmentRecords`, `AssessmentRecordAnswers`).

The tenant has the designer fixture (crates/openwelkin/tests/fixtures/designer)
published by conftest.py: assessment `asm-phq-2` ("PHQ-2", scoring SUM) whose two
required select questions write the cdt-phq-2 fields `interest` and `mood`
(options 0, 1, 3). Answer keys are `<cdtName>__<fieldName>`.

Expected shapes are those of the recorded Welkin responses (cassettes
test_assessment_record_create / _get / _update / _delete / _answers_update,
test_assessment_records_get), written out here. Update is a PUT of the whole record
as fetched, with `status` changed (as the client sends it).
"""

import json
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from welkin.exceptions import WelkinHTTPError
from welkin.models.assessment import (
    AssessmentRecord,
    AssessmentRecordAnswers,
    AssessmentRecords,
)

from parity import covers
from support import TS_RE, activate, assert_error, capped, uniq

ASSESSMENT = "asm-phq-2"
INTEREST = "cdt-phq-2__interest"
MOOD = "cdt-phq-2__mood"

# An assessment record: exactly these keys (test_assessment_record_create#0).
RECORD_KEYS = {
    "id", "createdAt", "updatedAt", "createdBy", "updatedBy", "createdByName",
    "updatedByName", "finalizedDate", "localFinalizedDate", "localCreatedDate",
    "localUpdatedDate", "assessmentName", "assessmentTitle", "assessmentCdtName",
    "version", "patientId", "status", "answers", "scoring", "folderId",
    "expirationDate", "questions", "resolvedCdtValues", "pfa",
}

# `answers`: the system keys of a CDT-backed body plus one key per question.
ANSWER_SYSTEM_KEYS = {
    "id", "created_at", "created_by", "created_by_name", "updated_at", "updated_by",
    "updated_by_name", "source_type", "source_name", "source_id", "external_id",
    "external_guid",
}
ANSWER_KEYS = ANSWER_SYSTEM_KEYS | {INTEREST, MOOD}

SPRING_KEYS = {
    "content", "pageable", "last", "totalElements", "totalPages", "first", "number",
    "sort", "numberOfElements", "size", "empty",
}

LOCAL_RE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$"


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

@pytest.fixture
def patient(client):
    return client.Patient(firstName="Ass", lastName=uniq("Essed"),
                          timezone="America/New_York").create()


def _path(ow, patient_id, record_id=None):
    path = f"/{ow.tenant}/sandbox/patients/{patient_id}/assessment-records"
    return f"{path}/{record_id}" if record_id else path


def _sent(recorder, index=-1):
    body = recorder.responses[index].request.body
    return json.loads(body) if body else None


def _query(recorder, index=-1):
    return parse_qs(urlsplit(recorder.responses[index].request.url).query)


def _new(patient):
    return patient.AssessmentRecord(assessmentName=ASSESSMENT).create()


def _error(call):
    with pytest.raises(WelkinHTTPError) as exc_info:
        call()
    return exc_info.value.response


def _plain(resource):
    return json.loads(json.dumps(resource))


def _fetch(client, patient_id, record_id):
    return client.AssessmentRecord(id=record_id).get(patient_id)


# --------------------------------------------------------------------------
# create / read
# --------------------------------------------------------------------------

@covers("AssessmentRecord.create")
def test_create_record_shape(ow, client, recorder, patient):
    record = _new(patient)

    assert recorder.last("POST") == ("POST", _path(ow, patient["id"]), 201)
    assert _sent(recorder) == {"assessmentName": ASSESSMENT}
    body = recorder.responses[-1].json()
    assert set(body) == RECORD_KEYS, (
        f"missing {sorted(RECORD_KEYS - set(body))}, extra {sorted(set(body) - RECORD_KEYS)}")
    uuid.UUID(body["id"])
    assert body["patientId"] == patient["id"]
    assert body["assessmentName"] == ASSESSMENT
    assert body["assessmentTitle"] == "PHQ-2"
    assert body["assessmentCdtName"] == "_asm-phq-2"
    assert body["status"] == "NEW"
    assert type(body["version"]) is int and body["version"] >= 1
    for key in ("finalizedDate", "localFinalizedDate", "folderId", "expirationDate"):
        assert body[key] is None, (key, body[key])
    assert body["scoring"] == {}
    assert body["questions"] == {}
    assert body["resolvedCdtValues"] == {}
    assert body["pfa"] is False
    assert TS_RE.match(body["createdAt"]), body["createdAt"]
    assert body["updatedAt"] == body["createdAt"]
    for key in ("localCreatedDate", "localUpdatedDate"):
        assert re.match(LOCAL_RE, body[key]), (key, body[key])
    # The patient's zone (America/New_York).
    assert body["localCreatedDate"][-6:] in ("-05:00", "-04:00"), body["localCreatedDate"]
    assert body["createdByName"] == f"API_CLIENT:{ow.client_name}"

    answers = body["answers"]
    assert set(answers) == ANSWER_KEYS, sorted(answers)
    assert answers[INTEREST] is None and answers[MOOD] is None
    assert answers["source_type"] == "ASSESSMENT"
    assert answers["source_id"] == body["id"]
    assert answers["source_name"] == ASSESSMENT
    assert answers["created_by_name"] == f"API_CLIENT:{ow.client_name}"
    assert answers["external_id"] is None and answers["external_guid"] is None
    uuid.UUID(answers["id"])

    assert isinstance(record, AssessmentRecord)
    assert _plain(record) == body


@covers("AssessmentRecord.create", "AssessmentRecords.get")
@pytest.mark.parametrize("fields, status, code, field", [
    ({"assessmentName": "asm-nope"}, 404, "ASSESSMENT_NOT_FOUND", None),
    ({"name": ASSESSMENT}, 400, "VALIDATION_ERROR", "name"),
    ({}, 400, "VALIDATION_ERROR", "assessmentName"),
])
def test_create_record_refused(client, patient, fields, status, code, field):
    first = assert_error(_error(lambda: patient.AssessmentRecord(**fields).create()),
                         status, code)
    if field:
        assert first["details"]["field"] == field, first
    else:
        assert first["details"] == {"assessmentName": "asm-nope"}, first
    assert len(patient.AssessmentRecords().get()) == 0


@covers("AssessmentRecord.create")
def test_create_record_for_unknown_patient(client):
    response = _error(lambda: client.AssessmentRecord(assessmentName=ASSESSMENT).create(
        str(uuid.uuid4())))
    assert_error(response, 404, "PATIENT_NOT_FOUND")


@covers("AssessmentRecord.create", "AssessmentRecord.get")
def test_read_record(ow, client, recorder, patient):
    created = _new(patient)
    created_body = recorder.responses[-1].json()

    fetched = _fetch(client, patient["id"], created["id"])
    assert recorder.last() == ("GET", _path(ow, patient["id"], created["id"]), 200)
    assert isinstance(fetched, AssessmentRecord)
    assert _plain(fetched) == created_body

    # Nested under the patient.
    nested = patient.AssessmentRecord(id=created["id"]).get()
    assert recorder.last() == ("GET", _path(ow, patient["id"], created["id"]), 200)
    assert _plain(nested) == created_body

    # Another patient's path does not reach it.
    other = client.Patient(firstName="O", lastName=uniq("P")).create()
    first = assert_error(_error(lambda: _fetch(client, other["id"], created["id"])),
                         404, "ASSESSMENT_RECORD_NOT_FOUND")
    assert first["details"] == {"recordId": created["id"], "patientId": other["id"]}


# --------------------------------------------------------------------------
# answers
# --------------------------------------------------------------------------

@covers("AssessmentRecord.create", "AssessmentRecord.get", "AssessmentRecordAnswers.update")
def test_answers_update(ow, client, recorder, patient):
    record = _new(patient)
    created_at = record["createdAt"]

    answers = record.AssessmentRecordAnswers(**{INTEREST: 3})
    result = answers.update()
    assert result is answers
    assert recorder.last() == ("PUT", _path(ow, patient["id"], record["id"]) + "/answers", 200)
    # A flat map of answer keys (as recorded).
    assert _sent(recorder) == {INTEREST: 3}
    body = recorder.responses[-1].json()
    # The whole record comes back.
    assert set(body) == RECORD_KEYS
    assert body["id"] == record["id"]
    assert body["status"] == "IN_PROGRESS"
    assert body["answers"][INTEREST] == 3
    assert body["answers"][MOOD] is None
    assert body["finalizedDate"] is None
    assert body["createdAt"] == created_at
    assert body["updatedAt"] >= created_at
    assert isinstance(answers, AssessmentRecordAnswers)
    assert answers["status"] == "IN_PROGRESS"

    # Explicit ids, a second answer; earlier answers stay.
    client.AssessmentRecordAnswers(**{MOOD: 0}).update(patient["id"], record["id"])
    again = _fetch(client, patient["id"], record["id"])
    assert again["answers"][INTEREST] == 3
    assert again["answers"][MOOD] == 0
    assert again["status"] == "IN_PROGRESS"


@covers("AssessmentRecord.create", "AssessmentRecord.get", "AssessmentRecordAnswers.update")
@pytest.mark.parametrize("answers, field", [
    ({INTEREST: 2}, INTEREST),             # not an option
    ({INTEREST: "3"}, INTEREST),           # options are integers
    ({"cdt-phq-2__sleep": 1}, "cdt-phq-2__sleep"),
    ({"CDT-PHQ-2__INTEREST": 3}, "CDT-PHQ-2__INTEREST"),
])
def test_answers_update_refused(client, patient, answers, field):
    record = _new(patient)
    before = _plain(_fetch(client, patient["id"], record["id"]))

    response = _error(lambda: client.AssessmentRecordAnswers(**answers).update(
        patient["id"], record["id"]))
    first = assert_error(response, 400, "VALIDATION_ERROR")
    assert first["details"]["field"] == field, first
    assert _plain(_fetch(client, patient["id"], record["id"])) == before


@covers("AssessmentRecordAnswers.update")
def test_answers_of_unknown_record(client, patient):
    rid = str(uuid.uuid4())
    first = assert_error(
        _error(lambda: client.AssessmentRecordAnswers(**{INTEREST: 1}).update(patient["id"], rid)),
        404, "ASSESSMENT_RECORD_NOT_FOUND")
    assert first["details"] == {"recordId": rid, "patientId": patient["id"]}


# --------------------------------------------------------------------------
# update (PUT of the whole record)
# --------------------------------------------------------------------------

@covers(
    "AssessmentRecord.create",
    "AssessmentRecord.get",
    "AssessmentRecord.update",
    "AssessmentRecordAnswers.update",
)
def test_complete_record(ow, client, recorder, api, patient):
    record = _new(patient)
    record.AssessmentRecordAnswers(**{INTEREST: 3}).update()

    # The client sends back the record as fetched, with the status changed.
    fetched = _fetch(client, patient["id"], record["id"])
    fetched["status"] = "COMPLETED"
    response = _error(lambda: fetched.update())
    first = assert_error(response, 400, "VALIDATION_ERROR")
    assert first["details"]["field"] == MOOD, "a required question is unanswered"
    assert _fetch(client, patient["id"], record["id"])["status"] == "IN_PROGRESS"

    fetched = _fetch(client, patient["id"], record["id"])
    fetched["status"] = "COMPLETED"
    fetched["answers"][MOOD] = 1
    sent_before = _plain(fetched)
    result = fetched.update()
    assert result is fetched
    assert recorder.last() == ("PUT", _path(ow, patient["id"], record["id"]), 200)
    assert _sent(recorder) == sent_before
    assert set(_sent(recorder)) == RECORD_KEYS
    body = recorder.responses[-1].json()
    assert set(body) == RECORD_KEYS
    assert body["status"] == "COMPLETED"
    assert TS_RE.match(body["finalizedDate"]), body["finalizedDate"]
    assert re.match(LOCAL_RE, body["localFinalizedDate"]), body
    assert body["updatedAt"] == body["finalizedDate"]
    assert body["scoring"] == {"formula": "SUM", "score": 4}
    assert body["answers"][INTEREST] == 3
    assert body["answers"][MOOD] == 1
    assert body["questions"] == {
        INTEREST: "Little interest or pleasure in doing things",
        MOOD: "Feeling down, depressed, or hopeless",
    }
    assert fetched["status"] == "COMPLETED"
    assert _plain(_fetch(client, patient["id"], record["id"])) == body

    audit = api.get("admin/audit-data", params={
        "patientId": patient["id"], "eventSubtype": "ASSESSMENT_COMPLETED"})
    assert audit.status_code == 200, audit.text
    rows = audit.json()["data"]
    assert [r["record"]["id"] for r in rows] == [record["id"]]
    assert rows[0]["eventEntity"] == "ASSESSMENT"


@covers(
    "AssessmentRecord.create",
    "AssessmentRecord.get",
    "AssessmentRecord.update",
    "AssessmentRecordAnswers.update",
)
def test_completed_record_is_frozen(client, patient):
    record = _new(patient)
    record.AssessmentRecordAnswers(**{INTEREST: 0, MOOD: 0}).update()
    done = _fetch(client, patient["id"], record["id"])
    done["status"] = "COMPLETED"
    done.update()
    assert done["scoring"] == {"formula": "SUM", "score": 0}
    frozen = _plain(_fetch(client, patient["id"], record["id"]))

    assert_error(_error(lambda: client.AssessmentRecordAnswers(**{MOOD: 3}).update(
        patient["id"], record["id"])), 400, "ASSESSMENT_RECORD_COMPLETED")
    reopen = _fetch(client, patient["id"], record["id"])
    reopen["status"] = "IN_PROGRESS"
    assert_error(_error(lambda: reopen.update()), 400, "ASSESSMENT_RECORD_COMPLETED")
    assert _plain(_fetch(client, patient["id"], record["id"])) == frozen


@covers("AssessmentRecord.create", "AssessmentRecord.get", "AssessmentRecord.update")
def test_put_answers_of_a_new_record_as_fetched(client, recorder, patient):
    """The client's flow: fetch the record, change an answer, PUT it back. The
    status sent is the stored one (NEW), so it asks for no status change."""
    record = _new(patient)
    fetched = _fetch(client, patient["id"], record["id"])
    assert fetched["status"] == "NEW"
    fetched["answers"][INTEREST] = 1
    fetched.update()
    assert recorder.last()[2] == 200
    assert fetched["answers"][INTEREST] == 1
    assert fetched["status"] == "IN_PROGRESS"
    assert fetched["finalizedDate"] is None


@covers(
    "AssessmentRecord.create",
    "AssessmentRecord.get",
    "AssessmentRecord.update",
    "AssessmentRecordAnswers.update",
)
def test_put_answers_and_status_back_to_new(client, recorder, patient):
    record = _new(patient)
    record.AssessmentRecordAnswers(**{INTEREST: 3}).update()

    fetched = _fetch(client, patient["id"], record["id"])
    fetched["answers"][MOOD] = 1
    fetched.update()
    assert recorder.last()[2] == 200
    assert (fetched["answers"][INTEREST], fetched["answers"][MOOD]) == (3, 1)
    assert fetched["status"] == "IN_PROGRESS"
    assert fetched["finalizedDate"] is None

    # Back to NEW is refused.
    back = _fetch(client, patient["id"], record["id"])
    back["status"] = "NEW"
    first = assert_error(_error(lambda: back.update()), 400, "VALIDATION_ERROR")
    assert first["details"]["field"] == "status"
    assert _fetch(client, patient["id"], record["id"])["status"] == "IN_PROGRESS"


@covers("AssessmentRecord.create", "AssessmentRecord.get", "AssessmentRecord.update")
@pytest.mark.parametrize("change, field", [
    ({"status": "DONE"}, "status"),
    ({"assessmentName": "asm-other"}, "assessmentName"),
    ({"colour": "red"}, "colour"),
])
def test_update_record_refused(client, patient, change, field):
    record = _new(patient)
    before = _plain(_fetch(client, patient["id"], record["id"]))
    fetched = _fetch(client, patient["id"], record["id"])
    for k, v in change.items():
        fetched[k] = v
    first = assert_error(_error(lambda: fetched.update()), 400, "VALIDATION_ERROR")
    assert first["details"]["field"] == field, first
    assert _plain(_fetch(client, patient["id"], record["id"])) == before


@covers("AssessmentRecord.update")
def test_update_unknown_record(client, patient):
    rid = str(uuid.uuid4())
    ghost = client.AssessmentRecord(id=rid, status="COMPLETED")
    assert_error(_error(lambda: ghost.update(patient["id"])), 404, "ASSESSMENT_RECORD_NOT_FOUND")


# --------------------------------------------------------------------------
# delete
# --------------------------------------------------------------------------

@covers(
    "AssessmentRecord.create",
    "AssessmentRecord.delete",
    "AssessmentRecord.get",
    "AssessmentRecords.get",
)
def test_delete_record(ow, client, recorder, patient):
    record = _new(patient)

    record.delete()
    assert recorder.last() == ("DELETE", _path(ow, patient["id"], record["id"]), 200)
    response = recorder.responses[-1]
    assert response.content == b""
    assert "Content-Type" not in response.headers, dict(response.headers)

    first = assert_error(_error(lambda: _fetch(client, patient["id"], record["id"])),
                         404, "ASSESSMENT_RECORD_NOT_FOUND")
    assert first["componentType"] == "ASSESSMENT"
    assert first["message"] == "Assessment record for patient not found"
    assert first["details"] == {"recordId": record["id"], "patientId": patient["id"]}
    assert_error(_error(lambda: client.AssessmentRecord(id=record["id"]).delete(patient["id"])),
                 404, "ASSESSMENT_RECORD_NOT_FOUND")
    assert len(patient.AssessmentRecords().get()) == 0


# --------------------------------------------------------------------------
# lists
# --------------------------------------------------------------------------

@covers("AssessmentRecord.create", "AssessmentRecords.get")
def test_list_records(ow, client, recorder, api, patient):
    made = [_new(patient) for _ in range(3)]

    got = patient.AssessmentRecords().get()
    assert recorder.last() == ("GET", _path(ow, patient["id"]) + "?page=0", 200)
    assert isinstance(got, AssessmentRecords)
    assert all(isinstance(r, AssessmentRecord) for r in got)
    assert [r["id"] for r in got] == [r["id"] for r in made]
    for r in got:
        assert set(r) == RECORD_KEYS

    body = recorder.responses[-1].json()
    assert set(body) == SPRING_KEYS, sorted(body)
    assert (body["number"], body["last"], body["first"], body["totalElements"],
            body["totalPages"], body["numberOfElements"], body["size"], body["empty"]) == (
        0, True, True, 3, 1, 3, 20, False)
    assert body["pageable"]["pageNumber"] == 0
    assert body["pageable"]["pageSize"] == 20

    by_arg = client.AssessmentRecords().get(patient["id"])
    assert [r["id"] for r in by_arg] == [r["id"] for r in made]

    # An empty page (as Spring renders it).
    fresh = client.Patient(firstName="No", lastName=uniq("Records")).create()
    empty = api.get(f"sandbox/patients/{fresh['id']}/assessment-records").json()
    assert (empty["content"], empty["totalPages"], empty["empty"], empty["numberOfElements"],
            empty["last"]) == ([], 0, True, 0, True)


@covers("AssessmentRecord.create", "AssessmentRecords.get")
def test_paginate_records(ow, client, recorder, patient):
    made = [_new(patient) for _ in range(5)]
    recorder.clear()

    walked = list(capped(patient.AssessmentRecords().get(paginate=True, size=2), 50))
    assert [r["id"] for r in walked] == [r["id"] for r in made]
    queries = [_query(recorder, i) for i in range(len(recorder.responses))]
    assert queries == [{"size": ["2"], "page": [str(n)]} for n in range(3)]
    assert [r.json()["last"] for r in recorder.responses] == [False, False, True]

    assert len(patient.AssessmentRecords().get(size=2)) == 2


@covers("AssessmentRecord.create", "AssessmentRecords.get")
def test_list_is_the_patients_own(client, patient):
    mine = _new(patient)
    other = client.Patient(firstName="Other", lastName=uniq("One")).create()
    _new(other)
    assert [r["id"] for r in patient.AssessmentRecords().get()] == [mine["id"]]


@covers("AssessmentRecords.get")
def test_unknown_patient_list(client):
    assert_error(_error(lambda: client.AssessmentRecords().get(str(uuid.uuid4()))),
                 404, "PATIENT_NOT_FOUND")


# --------------------------------------------------------------------------
# isolation, policy, audit
# --------------------------------------------------------------------------

@covers("AssessmentRecord.create", "AssessmentRecord.get", "AssessmentRecords.get")
def test_instances_are_isolated(client, live_client):
    activate(client)
    patient = client.Patient(firstName="Sand", lastName=uniq("Iso")).create()
    record = _new(patient)

    activate(live_client)
    try:
        assert_error(_error(lambda: live_client.AssessmentRecord(id=record["id"]).get(
            patient["id"])), 404, "PATIENT_NOT_FOUND")
        live_patient = live_client.Patient(firstName="Live", lastName=uniq("Iso")).create()
        assert_error(_error(lambda: live_client.AssessmentRecord(id=record["id"]).get(
            live_patient["id"])), 404, "ASSESSMENT_RECORD_NOT_FOUND")
        assert len(live_client.AssessmentRecords().get(live_patient["id"])) == 0
    finally:
        activate(client)
    assert _fetch(client, patient["id"], record["id"])["id"] == record["id"]


@covers(
    "AssessmentRecord.create",
    "AssessmentRecord.delete",
    "AssessmentRecord.get",
    "AssessmentRecord.update",
    "AssessmentRecordAnswers.update",
    "AssessmentRecords.get",
)
def test_policy_refuses_assessment_records(client, ro_client):
    activate(client)
    patient = client.Patient(firstName="Pol", lastName=uniq("Icy")).create()
    record = _new(patient)

    activate(ro_client)
    try:
        calls = [
            lambda: ro_client.AssessmentRecord(assessmentName=ASSESSMENT).create(patient["id"]),
            lambda: ro_client.AssessmentRecord(id=record["id"]).get(patient["id"]),
            lambda: ro_client.AssessmentRecords().get(patient["id"]),
            lambda: ro_client.AssessmentRecordAnswers(**{INTEREST: 1}).update(
                patient["id"], record["id"]),
            lambda: ro_client.AssessmentRecord(id=record["id"], status="COMPLETED").update(
                patient["id"]),
            lambda: ro_client.AssessmentRecord(id=record["id"]).delete(patient["id"]),
        ]
        for call in calls:
            first = assert_error(_error(call), 403, "ACCESS_FOR_API_CLIENT_RESTRICTED",
                                 with_date=False)
            assert first["details"]["clientName"] == ro_client.auth.api_client
    finally:
        activate(client)
    assert _fetch(client, patient["id"], record["id"])["status"] == "NEW"


@covers("AssessmentRecord.create", "AssessmentRecord.delete", "AssessmentRecordAnswers.update")
def test_record_writes_are_audited(client, api, patient):
    record = _new(patient)
    record.AssessmentRecordAnswers(**{INTEREST: 1}).update()
    record.delete()

    rows = api.get("admin/audit-data", params={"patientId": patient["id"], "size": 100})
    assert rows.status_code == 200, rows.text
    mine = [r for r in rows.json()["data"] if r["record"]["id"] == record["id"]]
    assert sorted(r["eventSubtype"] for r in mine) == [
        "ASSESSMENT_CREATED", "ASSESSMENT_DELETED", "ASSESSMENT_UPDATED"], mine
    for r in mine:
        assert r["eventEntity"] == "ASSESSMENT"
        assert r["patientId"] == patient["id"]
