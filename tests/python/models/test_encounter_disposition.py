"""Scenario: `EncounterDisposition` (get, update), driven through the real welkin
client, through an encounter and with explicit ids.

The tenant has the designer fixture (crates/openwelkin/tests/fixtures/designer)
published by conftest.py: encounter template `etmp-intake` ("Intake visit",
assessmentNames [asm-phq-2]), assessment `asm-phq-2` ("PHQ-2"), and Welkin's
standard encounter disposition (`disposition-code`: required select of
Completed / Rescheduled / No Show / Referred Out / Not Eligible; `note`: textarea).

Expected shapes are those of the recorded Welkin responses (cassettes
test_encounter_disposition_get/update), written out here.
"""

import uuid

import pytest
from welkin.models.encounter import EncounterDisposition

from parity import covers
from support import CDT_SYSTEM_FIELDS as SYSTEM_FIELDS
from support import ENCOUNTER_RECORD_KEYS as RECORD_KEYS
from support import assert_error, uniq
from support import encounter_path as _enc_path
from support import http_error as _error
from support import new_encounter as _new
from support import plain as _plain
from support import sent_json as _sent

# The disposition's own fields (the standard disposition), besides SYSTEM_FIELDS.
DISPOSITION_FIELDS = {"disposition-code", "note"}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

@pytest.fixture
def patient(client):
    """A fresh patient (bound to the active client), so counts are its own."""
    return client.Patient(firstName="Enc", lastName=uniq("Pat")).create()


# --------------------------------------------------------------------------
# disposition
# --------------------------------------------------------------------------

@covers("EncounterDisposition.get")
def test_disposition_get(ow, client, recorder, patient):
    enc = _new(patient)

    disposition = enc.EncounterDisposition().get()
    path = _enc_path(ow, patient["id"], enc["id"]) + "/disposition"
    assert recorder.last() == ("GET", path, 200)
    assert isinstance(disposition, EncounterDisposition)
    body = recorder.responses[-1].json()
    assert set(body) == RECORD_KEYS
    assert body["cdtName"] == "__encounter_disposition__"
    assert body["id"] == enc["jsonBody"]["dispositionId"]
    assert body["patientId"] == patient["id"]
    uuid.UUID(body["cdtId"])
    assert type(body["version"]) is int
    jb = body["jsonBody"]
    assert set(jb) == SYSTEM_FIELDS | DISPOSITION_FIELDS, sorted(jb)
    assert jb["id"] == body["id"]
    assert (jb["source_type"], jb["source_name"], jb["source_id"]) == (
        "ENCOUNTER", "__encounter__", enc["id"])
    assert jb["disposition-code"] is None
    assert jb["note"] is None

    # With explicit ids.
    again = client.EncounterDisposition().get(patient["id"], enc["id"])
    assert recorder.last() == ("GET", path, 200)
    assert _plain(again) == body


@covers("EncounterDisposition.get", "EncounterDisposition.update")
def test_disposition_update(ow, client, recorder, patient):
    enc = _new(patient)
    disposition = enc.EncounterDisposition().get()
    created_at = disposition["jsonBody"]["created_at"]

    result = disposition.update(**{"disposition-code": "Referred Out", "note": "see cardiology"})
    assert result is disposition
    path = _enc_path(ow, patient["id"], enc["id"]) + "/disposition"
    assert recorder.last() == ("PATCH", path, 200)
    # A field map without nesting (as recorded).
    assert _sent(recorder) == {"disposition-code": "Referred Out", "note": "see cardiology"}
    body = recorder.responses[-1].json()
    assert set(body) == RECORD_KEYS
    assert body["jsonBody"]["disposition-code"] == "Referred Out"
    assert body["jsonBody"]["note"] == "see cardiology"
    assert body["jsonBody"]["created_at"] == created_at
    assert body["jsonBody"]["updated_at"] >= created_at
    assert disposition["jsonBody"]["note"] == "see cardiology"

    # One field at a time leaves the other.
    client.EncounterDisposition().update(patient["id"], enc["id"], note="follow up")
    again = client.EncounterDisposition().get(patient["id"], enc["id"])
    assert again["jsonBody"]["disposition-code"] == "Referred Out"
    assert again["jsonBody"]["note"] == "follow up"

    # The full encounter shows the same disposition.
    full = client.Encounter(id=enc["id"]).get(patient["id"], related_data=True)
    assert full["disposition"] == _plain(again)


@covers("EncounterDisposition.get", "EncounterDisposition.update")
@pytest.mark.parametrize("fields, field", [
    ({"disposition-code": "Maybe"}, "disposition-code"),
    ({"outcome": "x"}, "outcome"),
])
def test_disposition_update_refused(client, patient, fields, field):
    enc = _new(patient)
    before = _plain(enc.EncounterDisposition().get())

    first = assert_error(_error(lambda: enc.EncounterDisposition().update(**fields)),
                         400, "VALIDATION_ERROR")
    assert first["details"]["field"] == field, first
    assert _plain(client.EncounterDisposition().get(patient["id"], enc["id"])) == before
