"""Patient programs, driven through the welkin client's PatientProgram(s) and
ProgramPhase(s) models."""

import uuid

import pytest
from welkin.exceptions import WelkinHTTPError
from welkin.models.program import PatientProgram, ProgramPhase, ProgramPhases

from parity import covers
from support import TS_RE, assert_error, capped, uniq

PROGRAM = "prog-diabetes"  # start -> education -> finish (the fixture designer)
PROGRAM_KEYS = {
    "id", "createdByName", "createdAt", "updatedByName", "updatedAt", "programName",
    "programTitle", "programDescription", "assigned", "patientId", "currentPhase",
    "status", "compatibleWithCurrentVersion", "pathHistory",
}
PHASE_KEYS = {
    "timestamp", "createdBy", "createdByName", "name", "title", "description",
    "currentVersion", "deleted",
}


def _patient(client):
    return client.Patient(firstName="Prog", lastName=uniq("Ram")).create()


def _programs_path(ow, patient_id):
    return f"/{ow.tenant}/sandbox/patients/{patient_id}/programs"


@covers(
    "PatientProgram.get",
    "PatientProgram.update",
    "ProgramPhase.<instance>",
    "ProgramPhases.<instance>",
)
def test_assign_then_read_by_name_and_by_id(ow, client, recorder):
    patient = _patient(client)

    program = patient.PatientProgram(programName=PROGRAM).update(assigned=True, phaseName="start")

    base = _programs_path(ow, patient.id)
    assert recorder.last() == ("PATCH", f"{base}/{PROGRAM}", 200)
    assert set(program) == PROGRAM_KEYS
    uuid.UUID(program.id)
    assert program.assigned is True
    assert program.status == "IN_PROGRESS"
    assert program.patientId == patient.id
    assert program.programTitle == "Diabetes care"
    assert program.compatibleWithCurrentVersion is True
    assert program.createdByName == f"API_CLIENT:{ow.client_name}"
    assert TS_RE.match(program.createdAt)
    phase = program.currentPhase
    assert isinstance(phase, ProgramPhase)
    assert set(phase) == PHASE_KEYS
    assert (phase.name, phase.title, phase.currentVersion, phase.deleted) == ("start", "Start", "1", False)
    history = program.pathHistory
    assert isinstance(history, ProgramPhases)
    assert [type(p) for p in history] == [ProgramPhase]
    assert history[0].name == "start"

    by_name = client.PatientProgram(programName=PROGRAM).get(patient.id)
    assert recorder.last("GET") == ("GET", f"{base}/current/{PROGRAM}", 200)
    assert dict(by_name) == dict(program)

    by_id = client.PatientProgram(id=program.id).get(patient.id, assigned_programs=True, sort="createdAt,asc")
    assert recorder.last("GET") == (
        "GET", f"{base}/history/{program.id}?assignedPrograms=True&sort=createdAt%2Casc", 200)
    assert dict(by_id) == dict(program)

    # The patient carries its enrolments.
    again = client.Patient(id=patient.id).get()
    assert [p["id"] for p in again["patientPrograms"]] == [program.id]


@covers(
    "PatientProgram.get",
    "PatientProgram.update",
    "ProgramPhase.<instance>",
    "ProgramPhases.<instance>",
)
def test_phase_changes_follow_the_program(ow, client, recorder):
    patient = _patient(client)
    program = patient.PatientProgram(programName=PROGRAM).update(assigned=True, phaseName="start")

    with pytest.raises(WelkinHTTPError) as exc:
        program.update(phaseName="finish")  # start only leads to education
    first = assert_error(exc.value.response, 400, "VALIDATION_ERROR")
    assert first["details"]["field"] == "phaseName"
    unchanged = client.PatientProgram(programName=PROGRAM).get(patient.id)
    assert [p.name for p in unchanged.pathHistory] == ["start"]

    program.update(phaseName="education")  # the patient id comes from the program itself
    assert recorder.last() == ("PATCH", f"{_programs_path(ow, patient.id)}/{PROGRAM}", 200)
    assert program.currentPhase.name == "education"
    assert [p.name for p in program.pathHistory] == ["start", "education"]

    program.update(phaseName="finish")
    assert (program.currentPhase.name, program.status) == ("finish", "IN_PROGRESS")  # as recorded
    assert len(program.pathHistory) == 3

    program.update(status="FINISHED")
    assert program.status == "FINISHED"
    with pytest.raises(WelkinHTTPError) as exc:
        client.PatientProgram(programName=PROGRAM).get(patient.id)
    first = assert_error(exc.value.response, 404, "PATIENT_PROGRAM_NOT_FOUND")
    assert first["details"] == {"programName": PROGRAM, "patientId": patient.id, "notStatus": "FINISHED"}
    finished = client.PatientProgram(id=program.id).get(patient.id)
    assert finished.status == "FINISHED"
    assert [p.name for p in finished.pathHistory] == ["start", "education", "finish"]


@covers("PatientProgram.delete", "PatientProgram.get", "PatientProgram.update")
def test_delete_by_id(ow, client, recorder):
    patient = _patient(client)
    program = patient.PatientProgram(programName=PROGRAM).update(assigned=True, phaseName="start")
    program_id = program.id

    program.delete(patient.id)

    assert recorder.last() == ("DELETE", f"{_programs_path(ow, patient.id)}/{program_id}", 200)
    with pytest.raises(WelkinHTTPError) as exc:
        client.PatientProgram(id=program_id).get(patient.id)
    first = assert_error(exc.value.response, 404, "PATIENT_PROGRAM_NOT_FOUND")
    assert first["details"] == {"id": program_id, "patientId": patient.id}


@covers("PatientProgram.update", "PatientPrograms.get", "ProgramPhase.<instance>")
def test_list_every_designer_program(ow, client, recorder):
    patient = _patient(client)
    formation = [p["name"] for p in client.Formation().Programs().get()]
    assert PROGRAM in formation

    listed = patient.PatientPrograms().get()
    assert recorder.last("GET") == ("GET", f"{_programs_path(ow, patient.id)}?page=0", 200)
    assert [p.programName for p in listed] == formation
    for p in listed:
        assert isinstance(p, PatientProgram)
        assert set(p) == PROGRAM_KEYS
        # (the client cannot wrap a null currentPhase, so read it as a dict key)
        assert (p["id"], p["assigned"], p["status"], p["currentPhase"], p["pathHistory"]) == (
            None, False, None, None, [])

    patient.PatientProgram(programName=PROGRAM).update(assigned=True, phaseName="start")
    assigned = client.PatientPrograms().get(patient.id, assigned_programs=True, sort="programName,asc")
    assert [(p.programName, p.assigned, p.status) for p in assigned] == [(PROGRAM, True, "IN_PROGRESS")]
    assert isinstance(assigned[0].currentPhase, ProgramPhase)

    everything = list(capped(client.PatientPrograms().get(patient.id, paginate=True, size=1), 50))
    assert [p.programName for p in everything] == formation
