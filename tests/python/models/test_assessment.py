"""Scenario: `Assessment` and `Assessments`, an encounter's assessment links
(create, get, update, delete, list), driven through the real welkin client.

The tenant has the designer fixture (crates/openwelkin/tests/fixtures/designer)
published by conftest.py: encounter template `etmp-intake` ("Intake visit",
assessmentNames [asm-phq-2]), assessment `asm-phq-2` ("PHQ-2"), and Welkin's
standard encounter disposition (`disposition-code`: required select of
Completed / Rescheduled / No Show / Referred Out / Not Eligible; `note`: textarea).

Expected shapes are those of the recorded Welkin responses (cassettes
test_encounter_assessment_create/get/update/delete, test_encounter_assessments_get),
written out here.
"""

import uuid

import pytest
from welkin.models.assessment import Assessment, Assessments

from parity import covers
from support import CDT_SYSTEM_FIELDS as SYSTEM_FIELDS
from support import ENCOUNTER_ASSESSMENT as ASSESSMENT
from support import ENCOUNTER_ASSESSMENT_TITLE as ASSESSMENT_TITLE
from support import ENCOUNTER_RECORD_KEYS as RECORD_KEYS
from support import assert_error, capped, uniq
from support import encounter_path as _enc_path
from support import http_error as _error
from support import ids as _ids
from support import new_assessment_record as _assessment_record
from support import new_encounter as _new
from support import plain as _plain
from support import sent_json as _sent

# jsonBody of an encounter assessment link (test_encounter_assessment_create#0).
LINK_FIELDS = SYSTEM_FIELDS | {
    "assessmentName", "assessmentTitle", "assessmentRecordId", "fromTemplate", "relation",
}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

@pytest.fixture
def patient(client):
    """A fresh patient (bound to the active client), so counts are its own."""
    return client.Patient(firstName="Enc", lastName=uniq("Pat")).create()


# --------------------------------------------------------------------------
# assessment links
# --------------------------------------------------------------------------

@covers("Assessments.get")
def test_assessment_links_list(ow, client, recorder, patient):
    enc = _new(patient)

    links = client.Assessments().get(patient["id"], enc["id"])
    path = _enc_path(ow, patient["id"], enc["id"]) + "/assessments"
    # A bare list, still asked with ?page=0 (as recorded).
    assert recorder.last() == ("GET", path + "?page=0", 200)
    body = recorder.responses[-1].json()
    assert isinstance(body, list) and len(body) == 1
    assert isinstance(links, Assessments) and len(links) == 1
    link = body[0]
    assert set(link) == RECORD_KEYS
    assert link["cdtName"] == "__encounter_assessment__"
    assert link["patientId"] == patient["id"]
    jb = link["jsonBody"]
    assert set(jb) == LINK_FIELDS, sorted(jb)
    assert jb["assessmentName"] == ASSESSMENT
    assert jb["assessmentTitle"] == ASSESSMENT_TITLE
    assert jb["assessmentRecordId"] is None
    assert jb["fromTemplate"] is True
    assert jb["relation"] == "ASSESSMENT"
    assert (jb["source_type"], jb["source_name"], jb["source_id"]) == (
        "ENCOUNTER", "__encounter__", enc["id"])

    # Walking it with paginate stops after the one page.
    walked = list(capped(enc.Assessments().get(paginate=True), 10))
    assert _ids(walked) == [link["id"]]


@covers(
    "Assessment.create",
    "Assessment.delete",
    "Assessment.get",
    "Assessment.update",
    "Assessments.get",
)
def test_assessment_link_create_get_update_delete(ow, client, recorder, patient):
    enc = _new(patient)
    base = _enc_path(ow, patient["id"], enc["id"]) + "/assessments"

    link = enc.Assessment(assessmentName=ASSESSMENT).create()
    assert recorder.last() == ("POST", base, 201)
    assert _sent(recorder) == {"assessmentName": ASSESSMENT}
    body = recorder.responses[-1].json()
    assert set(body) == RECORD_KEYS
    assert body["cdtName"] == "__encounter_assessment__"
    jb = body["jsonBody"]
    assert set(jb) == LINK_FIELDS, sorted(jb)
    assert jb["id"] == body["id"]
    assert jb["fromTemplate"] is False
    assert jb["assessmentRecordId"] is None
    assert jb["assessmentTitle"] == ASSESSMENT_TITLE
    assert jb["source_id"] == enc["id"]
    assert jb["created_by_name"] == f"API_CLIENT:{ow.client_name}"
    assert isinstance(link, Assessment)
    assert len(enc.Assessments().get()) == 2

    fetched = client.Assessment(id=link["id"]).get(patient["id"], enc["id"])
    assert recorder.last() == ("GET", f"{base}/{link['id']}", 200)
    assert _plain(fetched) == body

    record = _assessment_record(client, patient["id"])
    updated = link.update(assessmentRecordId=record["id"])
    assert updated is link
    assert recorder.last() == ("PATCH", f"{base}/{link['id']}", 200)
    assert _sent(recorder) == {"assessmentRecordId": record["id"]}
    ubody = recorder.responses[-1].json()
    assert ubody["jsonBody"]["assessmentRecordId"] == record["id"]
    assert ubody["jsonBody"]["updated_at"] >= jb["created_at"]
    assert client.Assessment(id=link["id"]).get(patient["id"], enc["id"])[
        "jsonBody"]["assessmentRecordId"] == record["id"]
    # The full encounter shows the link with its record.
    full = client.Encounter(id=enc["id"]).get(patient["id"], related_data=True)
    linked = [a for a in full["assessmentLinks"] if a["id"] == link["id"]]
    assert linked[0]["jsonBody"]["assessmentRecordId"] == record["id"]

    # Detach with null.
    link.update(assessmentRecordId=None)
    assert link["jsonBody"]["assessmentRecordId"] is None

    link.delete()
    assert recorder.last() == ("DELETE", f"{base}/{link['id']}", 200)
    assert recorder.responses[-1].content == b""
    first = assert_error(
        _error(lambda: client.Assessment(id=link["id"]).get(patient["id"], enc["id"])),
        404, "DT_RECORD_NOT_FOUND")
    assert first["componentType"] == "CDT"
    assert len(enc.Assessments().get()) == 1


@covers("Assessment.create", "Assessment.get", "Assessment.update", "Assessments.get")
def test_assessment_link_refusals(client, patient):
    enc = _new(patient)
    link = enc.Assessments().get()[0]
    other_patient = client.Patient(firstName="Other", lastName=uniq("Pat")).create()
    foreign_record = _assessment_record(client, other_patient["id"])

    first = assert_error(_error(lambda: enc.Assessment(assessmentName="asm-nope").create()),
                         400, "VALIDATION_ERROR")
    assert first["details"]["field"] == "assessmentName"
    first = assert_error(_error(lambda: enc.Assessment(title="x").create()),
                         400, "VALIDATION_ERROR")
    assert first["details"]["field"] == "title"

    for record_id in (str(uuid.uuid4()), foreign_record["id"]):
        first = assert_error(
            _error(lambda rid=record_id: client.Assessment(id=link["id"]).update(
                patient["id"], enc["id"], assessmentRecordId=rid)),
            400, "VALIDATION_ERROR")
        assert first["details"]["field"] == "assessmentRecordId", first

    # Nothing was written.
    links = enc.Assessments().get()
    assert len(links) == 1
    assert links[0]["jsonBody"]["assessmentRecordId"] is None

    assert_error(_error(lambda: client.Assessment(id=str(uuid.uuid4())).get(
        patient["id"], enc["id"])), 404, "DT_RECORD_NOT_FOUND")
    # A link is reached only through its own encounter.
    other = _new(patient)
    assert_error(_error(lambda: client.Assessment(id=link["id"]).get(
        patient["id"], other["id"])), 404, "DT_RECORD_NOT_FOUND")


@covers("Assessment.create")
def test_assessment_link_created_with_a_record(client, patient):
    enc = _new(patient)
    record = _assessment_record(client, patient["id"])
    link = client.Assessment(assessmentName=ASSESSMENT, assessmentRecordId=record["id"]).create(
        patient["id"], enc["id"])
    assert link["jsonBody"]["assessmentRecordId"] == record["id"]
