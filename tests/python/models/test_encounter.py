"""Scenario: `Encounter` and `Encounters` (patient and user encounters), driven
through the real welkin client. The encounter's disposition and assessment links
have their own scenarios (test_encounter_disposition.py, test_assessment.py).

The tenant has the designer fixture (crates/openwelkin/tests/fixtures/designer)
published by conftest.py: encounter template `etmp-intake` ("Intake visit",
assessmentNames [asm-phq-2]), assessment `asm-phq-2` ("PHQ-2"), and Welkin's
standard encounter disposition (`disposition-code`: required select of
Completed / Rescheduled / No Show / Referred Out / Not Eligible; `note`: textarea).

Expected shapes are those of the recorded Welkin responses (cassettes
test_encounter_create, test_encounter_patient_read(_related_data),
test_encounter_update, test_encounter_delete, test_all_encounters_patient_read,
test_all_encounters_user_read), written out here.

Encounters are created without `currentScheduledAppointment` (the inline calendar
event of the recording): the client does not need it and the server does not take it.
"""

import uuid

import pytest
from welkin.models.assessment import Assessment, Assessments
from welkin.models.encounter import Encounter, EncounterDisposition, Encounters
from welkin.models.user import User

from parity import covers
from support import CDT_SYSTEM_FIELDS as SYSTEM_FIELDS
from support import ENCOUNTER_ASSESSMENT as ASSESSMENT
from support import ENCOUNTER_RECORD_KEYS as RECORD_KEYS
from support import ENCOUNTER_TEMPLATE as TEMPLATE
from support import ENCOUNTER_TEMPLATE_TITLE as TEMPLATE_TITLE
from support import TS_RE, activate, assert_error, capped, uniq
from support import encounter_path as _enc_path
from support import http_error as _error
from support import ids as _ids
from support import new_assessment_record as _assessment_record
from support import new_encounter as _new
from support import plain as _plain
from support import query_of as _query
from support import sent_json as _sent

# jsonBody of an encounter (test_encounter_create#0, test_encounter_patient_read#0).
ENCOUNTER_FIELDS = SYSTEM_FIELDS | {
    "title", "description", "notes", "type", "templateName", "templateTitle",
    "instruction", "status", "startDatetime", "endDatetime", "localStartDatetime",
    "localEndDatetime", "calendarEventId", "calendarEventStartDatetime",
    "localCalendarEventStartDatetime", "currentScheduledAppointment", "calendarEvent",
    "dispositionId", "activeUserId", "activeUserName", "ownerUserId", "ownerUserName",
    "local_created_at", "local_updated_at",
}

# jsonBody of a user-listing item (test_all_encounters_user_read#0): the business
# keys and patientInfo, none of the audit keys.
USER_ITEM_FIELDS = (ENCOUNTER_FIELDS - SYSTEM_FIELDS) | {"patientInfo"}

FULL_KEYS = {
    "encounter", "disposition", "calendarEvent", "userRelatedToCalendarEvent",
    "assessmentLinks", "comments",
}

METAINFO_KEYS = {
    "page", "pageSize", "totalElements", "numberOfElements", "firstPage", "lastPage",
    "totalPages",
}


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------

@pytest.fixture
def patient(client):
    """A fresh patient (bound to the active client), so counts are its own."""
    return client.Patient(firstName="Enc", lastName=uniq("Pat")).create()


@pytest.fixture
def owner(client):
    """A fresh user, usable as ownerUserId."""
    name = uniq("doc")
    return client.User(username=name, email=f"{name}@example.com",
                       firstName="Doc", lastName="Tor").create()


def _same_keys(obj, expected):
    """Assert the keys of `obj` are exactly `expected`, naming the difference."""
    keys = set(obj)
    assert keys == expected, (
        f"missing {sorted(expected - keys)}, extra {sorted(keys - expected)}")


# --------------------------------------------------------------------------
# create
# --------------------------------------------------------------------------

@covers("Encounter.create")
def test_create_encounter_shape(ow, client, recorder, patient, owner):
    enc = _new(patient, title="new enc", description="new encounter",
               ownerUserId=owner["id"])

    assert recorder.last("POST") == ("POST", _enc_path(ow, patient["id"]), 201)
    # The client posts the model itself.
    assert _sent(recorder) == {"templateName": TEMPLATE, "title": "new enc",
                               "description": "new encounter", "ownerUserId": owner["id"]}
    body = recorder.responses[-1].json()
    assert set(body) == RECORD_KEYS, body
    uuid.UUID(body["id"])
    uuid.UUID(body["cdtId"])
    assert body["patientId"] == patient["id"]
    assert body["cdtName"] == "__encounter__"
    assert type(body["version"]) is int and body["version"] >= 1

    jb = body["jsonBody"]
    _same_keys(jb, ENCOUNTER_FIELDS)
    assert jb["id"] == body["id"]
    assert jb["status"] == "DRAFT"
    assert jb["title"] == "new enc"
    assert jb["description"] == "new encounter"
    assert jb["notes"] is None
    assert jb["type"] == TEMPLATE
    assert jb["templateName"] == TEMPLATE
    assert jb["templateTitle"] == TEMPLATE_TITLE
    assert isinstance(jb["instruction"], str)
    assert jb["ownerUserId"] == owner["id"]
    assert jb["ownerUserName"] == "Doc Tor"
    for key in ("startDatetime", "endDatetime", "activeUserId", "activeUserName",
                "calendarEventId", "calendarEvent", "currentScheduledAppointment"):
        assert jb[key] is None, (key, jb[key])
    uuid.UUID(jb["dispositionId"])
    assert jb["created_by_name"] == f"API_CLIENT:{ow.client_name}"
    assert jb["updated_by_name"] == jb["created_by_name"]
    assert TS_RE.match(jb["created_at"]), jb["created_at"]
    assert jb["updated_at"] == jb["created_at"]
    # An encounter is no child of another record (as recorded).
    for key in ("source_type", "source_name", "source_id", "external_id", "external_guid"):
        assert jb[key] is None, (key, jb[key])

    assert isinstance(enc, Encounter)
    assert {k: enc[k] for k in RECORD_KEYS} == body


@covers("Encounter.create")
def test_create_encounter_minimal_takes_the_template_title(client, patient):
    enc = _new(patient)
    jb = enc["jsonBody"]
    assert jb["status"] == "DRAFT"
    assert jb["title"] == TEMPLATE_TITLE
    assert jb["description"] is None
    assert jb["ownerUserId"] is None
    assert jb["ownerUserName"] is None


@covers("Encounter.create")
def test_create_encounter_links_the_template_assessments_and_a_disposition(client, patient):
    enc = _new(patient)
    links = enc.Assessments().get()
    assert isinstance(links, Assessments)
    assert len(links) == 1
    link = links[0]
    assert isinstance(link, Assessment)
    assert link["cdtName"] == "__encounter_assessment__"
    assert link["jsonBody"]["assessmentName"] == ASSESSMENT
    assert link["jsonBody"]["fromTemplate"] is True
    assert link["jsonBody"]["source_id"] == enc["id"]

    disposition = enc.EncounterDisposition().get()
    assert disposition["id"] == enc["jsonBody"]["dispositionId"]
    assert disposition["cdtName"] == "__encounter_disposition__"


@covers("Encounter.create", "Encounters.get")
@pytest.mark.parametrize("fields, field", [
    ({"title": "no template"}, "templateName"),
    ({"templateName": "etmp-nope"}, "templateName"),
    ({"templateName": TEMPLATE, "ownerUserId": "00000000-0000-4000-8000-000000000000"},
     "ownerUserId"),
    ({"templateName": TEMPLATE, "dispositionId": "x"}, "dispositionId"),
    ({"templateName": TEMPLATE, "status": "FINALIZED"}, "status"),
    ({"templateName": TEMPLATE, "colour": "red"}, "colour"),
])
def test_create_encounter_refused_names_the_field(client, patient, fields, field):
    response = _error(lambda: patient.Encounter(**fields).create())
    first = assert_error(response, 400, "VALIDATION_ERROR")
    assert first["details"]["field"] == field, first
    # Nothing was written.
    assert len(patient.Encounters().get()) == 0


@covers("Encounter.create")
def test_create_encounter_for_unknown_patient(client):
    response = _error(lambda: client.Encounter(templateName=TEMPLATE).create(str(uuid.uuid4())))
    assert_error(response, 404, "PATIENT_NOT_FOUND")


# --------------------------------------------------------------------------
# read
# --------------------------------------------------------------------------

@covers("Encounter.create", "Encounter.get")
def test_read_encounter(ow, client, recorder, patient):
    created = _new(patient, title="read me")
    created_body = recorder.responses[-1].json()

    fetched = client.Encounter(id=created["id"]).get(patient["id"])
    assert recorder.last() == ("GET", _enc_path(ow, patient["id"], created["id"]), 200)
    assert isinstance(fetched, Encounter)
    assert recorder.responses[-1].json() == created_body
    assert _plain(fetched) == created_body

    # Nested under the patient, the patient id comes from the parent.
    nested = patient.Encounter(id=created["id"]).get()
    assert recorder.last() == ("GET", _enc_path(ow, patient["id"], created["id"]), 200)
    assert _plain(nested) == created_body


@covers("Encounter.get")
def test_read_unknown_encounter_is_404(client, patient):
    response = _error(lambda: client.Encounter(id=str(uuid.uuid4())).get(patient["id"]))
    assert_error(response, 404, "DT_RECORD_NOT_FOUND")


@covers("Encounter.create", "Encounter.get")
def test_read_full_encounter(ow, client, recorder, patient, owner):
    created = _new(patient, ownerUserId=owner["id"])
    created_body = recorder.responses[-1].json()

    enc = client.Encounter(id=created["id"]).get(patient["id"], related_data=True)
    assert recorder.last() == ("GET", _enc_path(ow, patient["id"], created["id"], full=True), 200)
    body = recorder.responses[-1].json()
    assert set(body) == FULL_KEYS, body
    assert "id" not in body, "no top-level id, as recorded"

    assert body["encounter"] == created_body
    disposition = body["disposition"]
    assert set(disposition) == RECORD_KEYS
    assert disposition["cdtName"] == "__encounter_disposition__"
    assert disposition["id"] == created_body["jsonBody"]["dispositionId"]
    assert disposition["patientId"] == patient["id"]
    assert body["calendarEvent"] is None
    assert body["comments"] == []
    assert len(body["assessmentLinks"]) == 1
    assert body["assessmentLinks"][0]["jsonBody"]["assessmentName"] == ASSESSMENT
    assert body["userRelatedToCalendarEvent"]["id"] == owner["id"]
    assert body["userRelatedToCalendarEvent"]["username"] == owner["username"]

    # The model keeps its id and gains the parts, typed as the client declares them.
    assert enc["id"] == created["id"]
    assert isinstance(enc.assessmentLinks, Assessments)
    assert isinstance(enc.assessmentLinks[0], Assessment)
    assert enc.assessmentLinks[0]["jsonBody"]["source_id"] == created["id"]
    assert isinstance(enc.disposition, EncounterDisposition)
    assert enc.disposition["id"] == disposition["id"]
    assert isinstance(enc.userRelatedToCalendarEvent, User)
    assert enc.userRelatedToCalendarEvent["id"] == owner["id"]

    # Same through the parent-bound model and the keyword form.
    nested = patient.Encounter(id=created["id"]).get(related_data=True)
    assert recorder.last() == ("GET", _enc_path(ow, patient["id"], created["id"], full=True), 200)
    assert nested["encounter"] == created_body


@covers("Encounter.create", "Encounter.get")
def test_read_full_encounter_without_owner(client, patient):
    created = _new(patient)
    enc = client.Encounter(id=created["id"]).get(patient["id"], related_data=True)
    assert enc["userRelatedToCalendarEvent"] is None
    assert enc["encounter"]["id"] == created["id"]


# --------------------------------------------------------------------------
# update
# --------------------------------------------------------------------------

@covers("Encounter.create", "Encounter.get", "Encounter.update")
def test_update_encounter(ow, client, recorder, patient, owner):
    enc = _new(patient, title="new enc")
    created_body = recorder.responses[-1].json()

    result = enc.update(notes="a newer note", title="renamed", ownerUserId=owner["id"])
    assert result is enc
    assert recorder.last() == ("PATCH", _enc_path(ow, patient["id"], enc["id"]), 200)
    # The PATCH body is the jsonBody keys without nesting (as recorded).
    assert _sent(recorder) == {"notes": "a newer note", "title": "renamed",
                               "ownerUserId": owner["id"]}
    body = recorder.responses[-1].json()
    assert set(body) == RECORD_KEYS
    assert body["id"] == enc["id"]
    jb = body["jsonBody"]
    _same_keys(jb, ENCOUNTER_FIELDS)
    assert jb["notes"] == "a newer note"
    assert jb["title"] == "renamed"
    assert jb["ownerUserId"] == owner["id"]
    assert jb["ownerUserName"] == "Doc Tor"
    assert jb["status"] == "DRAFT"
    assert jb["created_at"] == created_body["jsonBody"]["created_at"]
    assert TS_RE.match(jb["updated_at"])
    assert jb["updated_at"] >= jb["created_at"]
    # The model is updated in place.
    assert enc["jsonBody"]["notes"] == "a newer note"

    again = client.Encounter(id=enc["id"]).get(patient["id"])
    assert _plain(again) == body

    # Clearing a text field with null.
    enc.update(notes=None)
    assert enc["jsonBody"]["notes"] is None


@covers("Encounter.create", "Encounter.get", "Encounter.update")
@pytest.mark.parametrize("fields, field", [
    ({"dispositionId": "x"}, "dispositionId"),
    ({"created_at": "2022-01-01T00:00:00.000Z"}, "created_at"),
    ({"status": "DONE"}, "status"),
    ({"ownerUserId": "00000000-0000-4000-8000-000000000000"}, "ownerUserId"),
    ({"templateName": "etmp-nope"}, "templateName"),
    ({"mood": 1}, "mood"),
])
def test_update_encounter_refused_names_the_field(client, patient, fields, field):
    enc = _new(patient, notes="kept")
    before = _plain(client.Encounter(id=enc["id"]).get(patient["id"]))

    response = _error(lambda: enc.update(**fields))
    first = assert_error(response, 400, "VALIDATION_ERROR")
    assert first["details"]["field"] == field, first
    assert _plain(client.Encounter(id=enc["id"]).get(patient["id"])) == before


@covers("Encounter.update")
def test_update_unknown_encounter_is_404(client, patient):
    ghost = client.Encounter(id=str(uuid.uuid4()))
    response = _error(lambda: ghost.update(patient["id"], notes="x"))
    assert_error(response, 404, "DT_RECORD_NOT_FOUND")


# --------------------------------------------------------------------------
# statuses
# --------------------------------------------------------------------------

@covers("Encounter.create", "Encounter.get", "Encounter.update")
def test_status_transitions_to_finalized(ow, client, recorder, api, patient):
    enc = _new(patient)

    # DRAFT cannot jump to FINALIZED.
    response = _error(lambda: enc.update(status="FINALIZED"))
    assert_error(response, 400, "INVALID_STATUS_TRANSITION")
    assert client.Encounter(id=enc["id"]).get(patient["id"])["jsonBody"]["status"] == "DRAFT"

    enc.update(status="OPEN")
    assert enc["jsonBody"]["status"] == "OPEN"
    assert enc["jsonBody"]["startDatetime"] is None

    enc.update(status="ACTIVE")
    assert enc["jsonBody"]["status"] == "ACTIVE"
    assert TS_RE.match(enc["jsonBody"]["startDatetime"]), enc["jsonBody"]

    # Finalizing needs the disposition's required field first.
    response = _error(lambda: enc.update(status="FINALIZED"))
    first = assert_error(response, 400, "VALIDATION_ERROR")
    assert first["details"]["field"] == "disposition.disposition-code", first
    assert client.Encounter(id=enc["id"]).get(patient["id"])["jsonBody"]["status"] == "ACTIVE"

    enc.EncounterDisposition().update(**{"disposition-code": "Completed", "note": "went well"})
    done = enc.update(status="FINALIZED")
    assert recorder.last() == ("PATCH", _enc_path(ow, patient["id"], enc["id"]), 200)
    assert done["jsonBody"]["status"] == "FINALIZED"
    assert TS_RE.match(done["jsonBody"]["endDatetime"])

    audit = api.get("admin/audit-data", params={
        "patientId": patient["id"], "eventSubtype": "ENCOUNTER_FINALIZED"})
    assert audit.status_code == 200, audit.text
    assert audit.json()["metaInfo"]["totalElements"] == 1


@covers("Encounter.create", "Encounter.get", "Encounter.update")
def test_finalized_encounter_is_closed(client, recorder, patient):
    enc = _new(patient)
    enc.update(status="ACTIVE")
    enc.EncounterDisposition().update(**{"disposition-code": "No Show"})
    enc.update(status="FINALIZED")
    record_id = _assessment_record(client, patient["id"])["id"]
    link = enc.Assessments().get()[0]
    frozen = _plain(client.Encounter(id=enc["id"]).get(patient["id"], related_data=True))

    refused = [
        lambda: enc.update(notes="late"),
        lambda: enc.update(status="ACTIVE"),
        lambda: enc.EncounterDisposition().update(note="late"),
        lambda: enc.Assessment(assessmentName=ASSESSMENT).create(),
        lambda: client.Assessment(id=link["id"]).update(
            patient["id"], enc["id"], assessmentRecordId=record_id),
        lambda: client.Assessment(id=link["id"]).delete(patient["id"], enc["id"]),
    ]
    for call in refused:
        first = assert_error(_error(call), 400, "ENCOUNTER_CLOSED")
        assert first["details"]["status"] == "FINALIZED", first

    assert _plain(client.Encounter(id=enc["id"]).get(patient["id"], related_data=True)) == frozen


@covers("Encounter.create", "Encounter.get", "Encounter.update")
def test_cancelled_encounter_is_closed(client, patient):
    enc = _new(patient)
    enc.update(status="CANCELLED")
    assert enc["jsonBody"]["status"] == "CANCELLED"

    for call in (lambda: enc.update(status="DRAFT"), lambda: enc.update(title="again")):
        first = assert_error(_error(call), 400, "ENCOUNTER_CLOSED")
        assert first["details"]["status"] == "CANCELLED"
    assert client.Encounter(id=enc["id"]).get(patient["id"])["jsonBody"]["status"] == "CANCELLED"


# --------------------------------------------------------------------------
# delete
# --------------------------------------------------------------------------

@covers("Encounter.create", "Encounter.delete", "Encounter.get", "Encounters.get")
def test_delete_encounter(ow, client, recorder, patient):
    enc = _new(patient)
    path = _enc_path(ow, patient["id"], enc["id"])

    enc.delete()
    assert recorder.last() == ("DELETE", path, 200)
    response = recorder.responses[-1]
    # 200 with an empty body and no Content-Type, as recorded.
    assert response.content == b""
    assert "Content-Type" not in response.headers, dict(response.headers)

    first = assert_error(_error(lambda: client.Encounter(id=enc["id"]).get(patient["id"])),
                         404, "DT_RECORD_NOT_FOUND")
    assert first["componentType"] == "CDT"
    assert_error(_error(lambda: client.EncounterDisposition().get(patient["id"], enc["id"])),
                 404, "DT_RECORD_NOT_FOUND")
    assert_error(_error(lambda: client.Encounter(id=enc["id"]).delete(patient["id"])),
                 404, "DT_RECORD_NOT_FOUND")
    assert len(patient.Encounters().get()) == 0


# --------------------------------------------------------------------------
# lists
# --------------------------------------------------------------------------

@covers("Encounter.create", "Encounters.get")
def test_patient_encounters_list(ow, client, recorder, api, patient):
    made = [_new(patient, title=f"enc {n}") for n in range(3)]

    got = patient.Encounters().get()
    assert recorder.last() == ("GET", _enc_path(ow, patient["id"]) + "?page=0", 200)
    assert isinstance(got, Encounters)
    assert all(isinstance(e, Encounter) for e in got)
    assert sorted(_ids(got)) == sorted(_ids(made))
    for e in got:
        assert set(e) == RECORD_KEYS
        assert e["cdtName"] == "__encounter__"
        _same_keys(e["jsonBody"], ENCOUNTER_FIELDS)

    # The envelope is {data, metaInfo} (test_all_encounters_patient_read#0).
    raw = api.get(f"sandbox/patients/{patient['id']}/encounters", params={"page": 0})
    assert raw.status_code == 200
    envelope = raw.json()
    assert set(envelope) == {"data", "metaInfo"}
    assert set(envelope["metaInfo"]) == METAINFO_KEYS
    assert envelope["metaInfo"] == {"page": 0, "pageSize": 20, "totalElements": 3,
                                    "numberOfElements": 3, "lastPage": True,
                                    "firstPage": True, "totalPages": 1}

    # Same list through the patient_id argument.
    by_arg = client.Encounters().get(patient_id=patient["id"])
    assert sorted(_ids(by_arg)) == sorted(_ids(made))


@covers("Encounter.create", "Encounters.get")
def test_patient_encounters_paginate(ow, client, recorder, patient):
    made = [_new(patient) for _ in range(5)]
    recorder.clear()

    walked = list(capped(patient.Encounters().get(paginate=True, size=2), 50))
    assert sorted(_ids(walked)) == sorted(_ids(made))
    assert len(set(_ids(walked))) == 5
    pages = [_query(recorder, i) for i in range(len(recorder.responses))]
    assert pages == [{"size": ["2"], "page": [str(n)]} for n in range(3)]
    assert recorder.responses[-1].json()["metaInfo"]["lastPage"] is True

    # Without paginate, the client takes `size` items.
    first_two = patient.Encounters().get(size=2)
    assert len(first_two) == 2


@covers("Encounter.create", "Encounter.update", "Encounters.get")
def test_patient_encounters_statuses_filter(ow, client, recorder, patient):
    draft = _new(patient)
    cancelled = _new(patient)
    cancelled.update(status="CANCELLED")
    active = _new(patient)
    active.update(status="ACTIVE")

    got = patient.Encounters().get(statuses=["CANCELLED"])
    assert _query(recorder)["statuses"] == ["CANCELLED"]
    assert _ids(got) == [cancelled["id"]]

    got = patient.Encounters().get(statuses=["DRAFT", "ACTIVE"])
    # The client joins the list into one comma-separated value.
    assert _query(recorder)["statuses"] == ["DRAFT,ACTIVE"]
    assert sorted(_ids(got)) == sorted([draft["id"], active["id"]])

    assert len(patient.Encounters().get(statuses=["FINALIZED"])) == 0
    assert len(patient.Encounters().get(statuses=["OPEN", "DRAFT", "ACTIVE", "CANCELLED"])) == 3

    first = assert_error(_error(lambda: patient.Encounters().get(statuses=["DONE"])),
                         400, "INVALID_PARAMETER")
    assert first["details"], first


@covers("Encounter.create", "Encounters.get")
def test_patient_encounters_sort(client, recorder, patient):
    for title in ("b-second", "a-first", "c-third"):
        _new(patient, title=title)

    asc = patient.Encounters().get(sort="title,asc")
    assert _query(recorder)["sort"] == ["title,asc"]
    assert [e["jsonBody"]["title"] for e in asc] == ["a-first", "b-second", "c-third"]

    desc = patient.Encounters().get(sort="title,desc")
    assert [e["jsonBody"]["title"] for e in desc] == ["c-third", "b-second", "a-first"]

    newest = patient.Encounters().get(sort="createdAt,desc")
    created = [e["jsonBody"]["created_at"] for e in newest]
    assert created == sorted(created, reverse=True)

    assert_error(_error(lambda: patient.Encounters().get(sort="colour,asc")), 400,
                 "INVALID_PARAMETER")


@covers("Encounter.create", "Encounters.get")
def test_patient_full_encounters_list(ow, client, recorder, patient):
    made = [_new(patient) for _ in range(2)]

    got = patient.Encounters().get(related_data=True)
    assert recorder.last() == ("GET", _enc_path(ow, patient["id"], full=True) + "?page=0", 200)
    body = recorder.responses[-1].json()
    assert set(body) == {"data", "metaInfo"}
    assert len(got) == 2
    for item in body["data"]:
        assert set(item) == FULL_KEYS
        assert "id" not in item
    assert sorted(e["encounter"]["id"] for e in got) == sorted(_ids(made))
    assert all(len(e["assessmentLinks"]) == 1 for e in got)


@covers("Encounter.create", "Encounters.get")
def test_only_with_calendar_event(client, recorder, patient):
    _new(patient)
    got = patient.Encounters().get(only_with_calendar_event=True)
    # Booleans go out capitalised, as the client sends them.
    assert _query(recorder)["onlyWithCalendarEvent"] == ["True"]
    assert len(got) == 0
    assert len(patient.Encounters().get(only_with_calendar_event=False)) == 1


@covers("Encounter.create", "Encounters.get")
def test_user_encounters(ow, client, recorder, owner):
    mine = client.Patient(firstName="Own", lastName=uniq("Ed")).create()
    theirs = client.Patient(firstName="Team", lastName=uniq("Mate"),
                            careTeam=[{"id": owner["id"]}]).create()
    owned = _new(mine, ownerUserId=owner["id"], title="owned")
    team = _new(theirs, title="team")
    _new(mine, title="nobody's")

    got = owner.Encounters().get(with_care_team=False)
    user_path = f"/{ow.tenant}/sandbox/users/{owner['id']}/encounters"
    assert recorder.last() == ("GET", user_path + "?withCareTeam=False&page=0", 200)
    assert isinstance(got, Encounters)
    assert _ids(got) == [owned["id"]]
    body = recorder.responses[-1].json()
    assert set(body) == {"data", "metaInfo"}
    item = body["data"][0]
    # The user listing has nulls the patient listing lacks (as recorded).
    assert set(item) == RECORD_KEYS
    assert (item["cdtId"], item["version"], item["cdtName"]) == (None, None, None)
    assert item["patientId"] == mine["id"]
    jb = item["jsonBody"]
    _same_keys(jb, USER_ITEM_FIELDS)
    assert jb["patientInfo"] == {"patientId": mine["id"], "firstName": "Own",
                                 "lastName": mine["lastName"]}
    assert jb["ownerUserId"] == owner["id"]
    assert jb["title"] == "owned"

    with_team = owner.Encounters().get(with_care_team=True)
    assert _query(recorder)["withCareTeam"] == ["True"]
    assert sorted(_ids(with_team)) == sorted([owned["id"], team["id"]])

    # The user_id argument instead of the parent.
    by_arg = client.Encounters().get(user_id=owner["id"])
    assert recorder.last()[1].startswith(f"/{ow.tenant}/sandbox/users/{owner['id']}/encounters")
    assert _ids(by_arg) == [owned["id"]]

    full = owner.Encounters().get(related_data=True)
    assert recorder.last()[1].startswith(
        f"/{ow.tenant}/sandbox/users/{owner['id']}/full-encounters")
    assert [e["encounter"]["id"] for e in full] == [owned["id"]]

    assert len(owner.Encounters().get(statuses=["CANCELLED"])) == 0


@covers("Encounters.get")
def test_user_encounters_of_unknown_user(client):
    response = _error(lambda: client.Encounters().get(user_id=str(uuid.uuid4())))
    assert_error(response, 404, "USER_NOT_FOUND")


# --------------------------------------------------------------------------
# isolation, policy, audit
# --------------------------------------------------------------------------

@covers("Encounter.create", "Encounter.get", "Encounters.get")
def test_instances_are_isolated(client, live_client):
    activate(client)
    patient = client.Patient(firstName="Sand", lastName=uniq("Iso")).create()
    enc = _new(patient)

    activate(live_client)
    try:
        assert_error(_error(lambda: live_client.Encounter(id=enc["id"]).get(patient["id"])),
                     404, "PATIENT_NOT_FOUND")
        live_patient = live_client.Patient(firstName="Live", lastName=uniq("Iso")).create()
        assert_error(_error(lambda: live_client.Encounter(id=enc["id"]).get(live_patient["id"])),
                     404, "DT_RECORD_NOT_FOUND")
        assert len(live_client.Encounters().get(patient_id=live_patient["id"])) == 0
    finally:
        activate(client)
    assert client.Encounter(id=enc["id"]).get(patient["id"])["id"] == enc["id"]


@covers(
    "Encounter.create",
    "Encounter.delete",
    "Encounter.get",
    "Encounter.update",
    "Encounters.get",
)
def test_policy_refuses_encounters(client, ro_client):
    activate(client)
    patient = client.Patient(firstName="Pol", lastName=uniq("Icy")).create()
    enc = _new(patient)

    activate(ro_client)
    try:
        calls = [
            lambda: ro_client.Encounter(id=enc["id"]).get(patient["id"]),
            lambda: ro_client.Encounters().get(patient_id=patient["id"]),
            lambda: ro_client.Encounter(templateName=TEMPLATE).create(patient["id"]),
            lambda: ro_client.Encounter(id=enc["id"]).update(patient["id"], notes="x"),
            lambda: ro_client.EncounterDisposition().get(patient["id"], enc["id"]),
            lambda: ro_client.Assessments().get(patient["id"], enc["id"]),
            lambda: ro_client.Encounter(id=enc["id"]).delete(patient["id"]),
        ]
        for call in calls:
            first = assert_error(_error(call), 403, "ACCESS_FOR_API_CLIENT_RESTRICTED",
                                 with_date=False)
            assert first["details"]["clientName"] == ro_client.auth.api_client
    finally:
        activate(client)
    assert client.Encounter(id=enc["id"]).get(patient["id"])["jsonBody"]["notes"] is None


@covers("Encounter.create", "Encounter.delete", "Encounter.update")
def test_encounter_writes_are_audited(ow, client, api, patient):
    enc = _new(patient)
    enc.update(notes="n")
    enc.delete()

    rows = api.get("admin/audit-data", params={"patientId": patient["id"], "size": 100})
    assert rows.status_code == 200, rows.text
    mine = [r for r in rows.json()["data"] if r["record"]["id"] == enc["id"]]
    assert sorted(r["eventSubtype"] for r in mine) == [
        "ENCOUNTER_CREATED", "ENCOUNTER_DELETED", "ENCOUNTER_UPDATED"], mine
    for r in mine:
        assert r["eventEntity"] == "ENCOUNTER"
        assert r["patientId"] == patient["id"]
        assert r["cdtName"] == "__encounter__"
        assert r["record"]["cdtName"] == "__encounter__"
