"""Formation reads, driven through the real welkin client (`Formation`).

`client.Formation(version=...)` binds the formation classes (Assessment(s),
CDT(s), DocumentType(s), Encounter(s), EncounterDisposition, Goal(s),
Program(s)) to `{instance}/formations/{version}`. Lists are sent with
`?page=0` and come back as bare arrays; single objects as bare objects.

The tenant has the designer fixture (crates/openwelkin/tests/fixtures/designer)
published once by conftest.py, so `current` is version 1. Key sets are those of
the recorded Welkin responses (cassettes TestFormation.*), written out here.
"""

import uuid

import pytest
from welkin.exceptions import WelkinHTTPError
from welkin.models import formation as fm

from parity import covers
from support import assert_error, capped

# --- recorded key sets -------------------------------------------------------
DATA_TYPE_KEYS = {
    "id", "name", "title", "label", "version", "internal", "readable", "updatable",
    "type", "relation", "fields", "_containsPHI",
}
DATA_TYPE_FIELD_KEYS = {
    "name", "type", "formula", "dictionary", "profileDataType", "editable", "searchable",
    "bulkEdit", "phi", "disable", "injectedSource", "displayType", "valueType", "meta",
}
# After a data type's own fields, in this order (recorded), all of type text
# except the two datetimes; only the external keys are editable.
SYSTEM_FIELD_ENTRIES = [
    ("id", "text", False),
    ("created_at", "datetime", False),
    ("created_by", "text", False),
    ("created_by_name", "text", False),
    ("updated_at", "datetime", False),
    ("updated_by", "text", False),
    ("updated_by_name", "text", False),
    ("source_name", "text", False),
    ("source_type", "text", False),
    ("source_id", "text", False),
    ("external_id", "text", True),
    ("external_guid", "text", True),
]
ASSESSMENT_KEYS = {
    "id", "title", "name", "version", "sections", "scoring", "programs", "template",
    "conditionSettings", "displayType", "autoCompleted", "_containsPHI",
}
PROGRAM_KEYS = {"name", "title", "description", "phases", "nodes"}
PHASE_KEYS = {"name", "title", "type", "description", "autoFinishProgram", "navigateTo"}
ENCOUNTER_KEYS = {
    "id", "name", "title", "encounterDescription", "encounterInstruction", "encounterColor",
    "type", "deliveryMethod", "defaultDuration", "assessmentNames",
}
GOAL_KEYS = {"name", "goalName", "type", "priority", "taskTemplates"}

# --- what the designer fixture holds ----------------------------------------
FIXTURE_CDTS = {"cdt-self-care", "cdt-vitals", "cdt-intake", "cdt-diagnosis", "cdt-phq-2"}


@pytest.fixture
def formation(client):
    return client.Formation(version="current")


def _base(ow, version="current"):
    return f"/{ow.tenant}/sandbox/formations/{version}"


def _names(items):
    return [i["name"] for i in items]


def _check_data_type(obj, name, relation, version=1):
    assert set(obj) == DATA_TYPE_KEYS, sorted(obj)
    assert obj["name"] == name
    assert obj["relation"] == relation
    assert obj["version"] == version
    assert type(obj["version"]) is int
    uuid.UUID(obj["id"])
    for key in ("internal", "readable", "updatable", "_containsPHI"):
        assert isinstance(obj[key], bool), (key, obj[key])
    assert obj["type"] in ("MULTI_RECORD", "SINGLE_RECORD")
    assert isinstance(obj["fields"], list) and obj["fields"]
    for field in obj["fields"]:
        assert set(field) == DATA_TYPE_FIELD_KEYS, (field.get("name"), sorted(field))
        assert isinstance(field["meta"], dict), field
        assert isinstance(field["meta"].get("required"), bool), field
    tail = [(f["name"], f["type"], f["editable"])
            for f in obj["fields"][-len(SYSTEM_FIELD_ENTRIES):]]
    assert tail == SYSTEM_FIELD_ENTRIES
    return {f["name"]: f for f in obj["fields"]}


# --------------------------------------------------------------------------
# CDTs
# --------------------------------------------------------------------------

@covers("formation.CDTs.get")
def test_cdts_list(ow, client, formation, recorder):
    cdts = formation.CDTs().get()

    assert recorder.last() == ("GET", f"{_base(ow)}/cdts?page=0", 200)
    assert isinstance(recorder.responses[-1].json(), list), "a bare array"
    assert isinstance(cdts, fm.CDTs)
    assert sorted(_names(cdts)) == sorted(FIXTURE_CDTS)
    for cdt in cdts:
        assert isinstance(cdt, fm.CDT)
        _check_data_type(cdt, cdt["name"], "COMMON")

    paged = list(capped(formation.CDTs().get(paginate=True), 50))
    assert sorted(_names(paged)) == sorted(FIXTURE_CDTS)


@covers("formation.CDT.get")
def test_cdt_read(ow, formation, recorder):
    cdt = formation.CDT(name="cdt-self-care").get()

    assert recorder.last() == ("GET", f"{_base(ow)}/cdts/cdt-self-care", 200)
    raw = recorder.responses[-1].json()
    assert dict(cdt) == raw
    fields = _check_data_type(raw, "cdt-self-care", "COMMON")
    assert (raw["title"], raw["type"], raw["internal"], raw["readable"], raw["updatable"]) == (
        "Self care", "MULTI_RECORD", False, True, True)
    assert _names(raw["fields"])[:2] == ["cdtf-alone-time", "cdtf-unwind"]

    select = fields["cdtf-alone-time"]
    assert (select["type"], select["displayType"], select["valueType"]) == (
        "select", "SELECT", "STRING")
    assert (select["editable"], select["phi"], select["disable"]) == (True, False, False)
    assert select["meta"]["required"] is False
    assert select["meta"]["options"] == [
        {"label": "Yes", "value": "Yes", "refCdtName": None},
        {"label": "No", "value": "No", "refCdtName": None},
    ]
    text = fields["cdtf-unwind"]
    assert (text["type"], text["displayType"], text["valueType"], text["meta"]) == (
        "text", None, None, {"required": False})
    for key in ("formula", "dictionary", "profileDataType"):
        assert text[key] is None, key


@covers("formation.CDT.get")
def test_cdt_read_single_record_and_dictionary(formation):
    intake = formation.CDT(name="cdt-intake").get()
    fields = _check_data_type(intake, "cdt-intake", "COMMON")
    assert intake["type"] == "SINGLE_RECORD"
    assert fields["reason"]["meta"]["required"] is True
    assert fields["notes"]["meta"]["required"] is False

    diagnosis = formation.CDT(name="cdt-diagnosis").get()
    fields = _check_data_type(diagnosis, "cdt-diagnosis", "COMMON")
    assert fields["condition"]["dictionary"] == "dict-conditions"


@covers("formation.CDT.get")
def test_cdt_read_unknown_is_404(formation):
    with pytest.raises(WelkinHTTPError) as exc_info:
        formation.CDT(name="cdt-nope").get()
    assert_error(exc_info.value.response, 404)


# --------------------------------------------------------------------------
# assessments
# --------------------------------------------------------------------------

@covers("formation.Assessment.get", "formation.Assessments.get")
def test_assessments_list_and_read(ow, formation, recorder):
    assessments = formation.Assessments().get()

    assert recorder.last() == ("GET", f"{_base(ow)}/assessments?page=0", 200)
    assert isinstance(recorder.responses[-1].json(), list)
    assert _names(assessments) == ["asm-phq-2"]
    assert all(isinstance(a, fm.Assessment) for a in assessments)

    asm = formation.Assessment(name="asm-phq-2").get()

    assert recorder.last() == ("GET", f"{_base(ow)}/assessments/asm-phq-2", 200)
    assert set(asm) == ASSESSMENT_KEYS, sorted(asm)
    assert dict(assessments[0]) == dict(asm)
    uuid.UUID(asm["id"])
    assert (asm["name"], asm["title"], asm["version"]) == ("asm-phq-2", "PHQ-2", 1)
    assert asm["scoring"] == {"formula": "SUM", "groups": []}
    assert isinstance(asm["programs"], list)
    assert isinstance(asm["conditionSettings"], dict)
    assert isinstance(asm["autoCompleted"], bool)
    assert isinstance(asm["_containsPHI"], bool)
    [section] = asm["sections"]
    assert (section["title"], section["name"], section["order"]) == ("Mood", "section-1", 0)
    assert [(f["refCdtName"], f["refCdtFieldName"]) for f in section["fields"]] == [
        ("cdt-phq-2", "interest"), ("cdt-phq-2", "mood")]


# --------------------------------------------------------------------------
# document types
# --------------------------------------------------------------------------

@covers("formation.DocumentType.get", "formation.DocumentTypes.get")
def test_document_types_list_and_read(ow, formation, recorder):
    types = formation.DocumentTypes().get()

    assert recorder.last() == ("GET", f"{_base(ow)}/document-types?page=0", 200)
    assert isinstance(recorder.responses[-1].json(), list)
    assert _names(types) == ["doc-type-others"]
    assert all(isinstance(t, fm.DocumentType) for t in types)

    doc = formation.DocumentType(name="doc-type-others").get()

    assert recorder.last() == ("GET", f"{_base(ow)}/document-types/doc-type-others", 200)
    fields = _check_data_type(doc, "doc-type-others", "DOCUMENT_TYPE")
    assert dict(types[0]) == dict(doc)
    assert (doc["title"], doc["label"], doc["internal"], doc["type"]) == (
        "Others", "Others", True, "MULTI_RECORD")
    assert fields["notes"]["phi"] is True
    assert doc["_containsPHI"] is True


# --------------------------------------------------------------------------
# encounter templates and the encounter disposition
# --------------------------------------------------------------------------

@covers("formation.Encounter.get", "formation.Encounters.get")
def test_encounters_list_and_read(ow, formation, recorder):
    encounters = formation.Encounters().get()

    assert recorder.last() == ("GET", f"{_base(ow)}/encounters?page=0", 200)
    assert isinstance(recorder.responses[-1].json(), list)
    assert _names(encounters) == ["etmp-intake"]
    assert all(isinstance(e, fm.Encounter) for e in encounters)

    enc = formation.Encounter(name="etmp-intake").get()

    assert recorder.last() == ("GET", f"{_base(ow)}/encounters/etmp-intake", 200)
    assert set(enc) == ENCOUNTER_KEYS, sorted(enc)
    assert dict(encounters[0]) == dict(enc)
    uuid.UUID(enc["id"])
    assert {k: enc[k] for k in ENCOUNTER_KEYS - {"id"}} == {
        "name": "etmp-intake", "title": "Intake visit", "encounterDescription": "",
        "encounterInstruction": "", "encounterColor": "#e67b2d", "type": "Async",
        "deliveryMethod": "VIDEO", "defaultDuration": 30, "assessmentNames": ["asm-phq-2"],
    }


@covers("formation.EncounterDisposition.get")
def test_encounter_disposition(ow, formation, recorder):
    disposition = formation.EncounterDisposition().get()

    assert recorder.last() == ("GET", f"{_base(ow)}/encounter-disposition", 200)
    raw = recorder.responses[-1].json()
    assert isinstance(raw, dict), "a bare object"
    assert dict(disposition) == raw
    _check_data_type(raw, "__encounter_disposition__", "ENCOUNTER_DISPOSITION")
    assert raw["internal"] is True


# --------------------------------------------------------------------------
# goal templates
# --------------------------------------------------------------------------

@covers("formation.Goal.get", "formation.Goals.get")
def test_goals_list_and_read(ow, formation, recorder):
    goals = formation.Goals().get()

    assert recorder.last() == ("GET", f"{_base(ow)}/goal-templates?page=0", 200)
    assert isinstance(recorder.responses[-1].json(), list)
    assert _names(goals) == ["eat-fruit"]
    assert all(isinstance(g, fm.Goal) for g in goals)

    goal = formation.Goal(name="eat-fruit").get()

    assert recorder.last() == ("GET", f"{_base(ow)}/goal-templates/eat-fruit", 200)
    assert set(goal) == GOAL_KEYS, sorted(goal)
    assert dict(goals[0]) == dict(goal)
    assert dict(goal) == {
        "name": "eat-fruit", "goalName": "Eat Fruit", "type": "dietary", "priority": "LOW",
        "taskTemplates": [{"name": "check-in-on-goal-progress",
                           "subjectConfig": {"type": "POINT_OF_CONTACT"}}],
    }


# --------------------------------------------------------------------------
# programs
# --------------------------------------------------------------------------

@covers("formation.Program.get", "formation.Programs.get")
def test_programs_list_and_read(ow, formation, recorder):
    programs = formation.Programs().get()

    assert recorder.last() == ("GET", f"{_base(ow)}/programs?page=0", 200)
    assert isinstance(recorder.responses[-1].json(), list)
    assert _names(programs) == ["prog-diabetes"]
    assert all(isinstance(p, fm.Program) for p in programs)

    prog = formation.Program(name="prog-diabetes").get()

    assert recorder.last() == ("GET", f"{_base(ow)}/programs/prog-diabetes", 200)
    assert set(prog) == PROGRAM_KEYS, sorted(prog)
    assert dict(programs[0]) == dict(prog)
    assert (prog["title"], prog["description"]) == ("Diabetes care", "Education then maintenance")
    assert isinstance(prog["nodes"], list)
    for phase in prog["phases"]:
        assert set(phase) == PHASE_KEYS, sorted(phase)
    assert [(p["name"], p["type"], p["navigateTo"]) for p in prog["phases"]] == [
        ("start", "START", [{"name": "education"}]),
        ("education", "REGULAR", [{"name": "finish"}]),
        ("finish", "FINISH", []),
    ]


# --------------------------------------------------------------------------
# versions
# --------------------------------------------------------------------------

@covers(
    "formation.Assessment.get",
    "formation.Assessments.get",
    "formation.CDT.get",
    "formation.CDTs.get",
    "formation.DocumentType.get",
    "formation.DocumentTypes.get",
    "formation.Encounter.get",
    "formation.EncounterDisposition.get",
    "formation.Encounters.get",
    "formation.Formation.<instance>",
    "formation.Goal.get",
    "formation.Goals.get",
    "formation.Program.get",
    "formation.Programs.get",
)
def test_numeric_version(ow, client, recorder):
    # NOTE: Formation(...) binds the formation classes to the *last* Formation
    # built (a class attribute), so each read below builds its own.
    cdts = client.Formation(version=1).CDTs().get()

    assert recorder.last() == ("GET", f"{_base(ow, 1)}/cdts?page=0", 200)
    assert sorted(_names(cdts)) == sorted(FIXTURE_CDTS)

    for kind, name in (("CDT", "cdt-vitals"), ("Assessment", "asm-phq-2"),
                       ("DocumentType", "doc-type-others"), ("Encounter", "etmp-intake"),
                       ("Goal", "eat-fruit"), ("Program", "prog-diabetes")):
        one = getattr(client.Formation(version=1), kind)(name=name).get()
        assert recorder.last()[1:] == (f"{_base(ow, 1)}/{one.endpoint}/{name}", 200)
        now = getattr(client.Formation(version="current"), kind)(name=name).get()
        assert recorder.last()[1:] == (f"{_base(ow)}/{now.endpoint}/{name}", 200)
        assert dict(one) == dict(now), kind
    for kind in ("Assessments", "DocumentTypes", "Encounters", "Goals", "Programs"):
        one = [dict(o) for o in getattr(client.Formation(version=1), kind)().get()]
        now = [dict(o) for o in getattr(client.Formation(version="current"), kind)().get()]
        assert one == now, kind
    one = client.Formation(version=1).EncounterDisposition().get()
    assert recorder.last()[1:] == (f"{_base(ow, 1)}/encounter-disposition", 200)
    assert dict(one) == dict(client.Formation(version="current").EncounterDisposition().get())


@covers("formation.CDTs.get", "formation.Formation.<instance>")
def test_unknown_version_is_404(client):
    with pytest.raises(WelkinHTTPError) as exc_info:
        client.Formation(version=99).CDTs().get()
    assert_error(exc_info.value.response, 404)


@covers("formation.CDT.get", "formation.CDTs.get", "formation.Formation.<instance>")
def test_live_instance_has_the_fixture_too(ow, live_client):
    cdts = live_client.Formation(version="current").CDTs().get()

    assert sorted(_names(cdts)) == sorted(FIXTURE_CDTS)
    assert live_client.Formation(version=1).CDT(name="cdt-self-care").get()["version"] == 1
