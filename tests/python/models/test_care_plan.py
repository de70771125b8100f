"""Care plans, driven through the real welkin client (`CarePlan`,
`CarePlanOverview`), both through a patient (`patient.CarePlan()`) and by passing
the patient id, as the client's own recorded tests do (cassettes
test_care_plan_create/read/update[_passing_patient_id]). Goals, goal comments and
goal tasks have no client model; they are exercised over plain HTTP.
"""

import pytest
from welkin.exceptions import WelkinHTTPError
from welkin.models.care_plan import CarePlan as CarePlanModel

import support
from parity import covers
from support import TS_RE, assert_error, uniq

PLAN_KEYS = {"id", "createdByName", "createdAt", "updatedByName", "updatedAt", "patientId",
             "patientOverview"}
OVERVIEW_KEYS = {"createdByName", "createdAt", "updatedByName", "updatedAt", "overview"}
GOAL_KEYS = {"id", "createdByName", "createdAt", "updatedByName", "updatedAt", "name", "type",
             "priority", "status", "templateName"}


@pytest.fixture
def patient(client):
    return client.Patient(firstName="Care", lastName=uniq("Plan")).create()


@covers("CarePlan.create")
def test_care_plan_create_through_patient(ow, client, recorder, patient):
    overview = "This is a message for the overview."
    created = patient.CarePlan(overview=overview).create()

    assert recorder.last() == (
        "POST", f"/{ow.tenant}/sandbox/patients/{patient['id']}/care-plan/overview", 200)
    assert isinstance(created, CarePlanModel)
    body = recorder.responses[-1].json()
    assert set(body) == OVERVIEW_KEYS, sorted(body)
    assert body["overview"] == overview
    assert body["createdByName"] == f"API_CLIENT:{ow.client_name}"
    assert TS_RE.match(body["createdAt"]) and TS_RE.match(body["updatedAt"])


@covers("CarePlan.create")
def test_care_plan_create_passing_patient_id(ow, client, recorder, patient):
    care_plan = client.CarePlan(overview="This is a message for the overview.").create(
        patient_id=patient["id"])
    assert isinstance(care_plan, CarePlanModel)
    assert recorder.last() == (
        "POST", f"/{ow.tenant}/sandbox/patients/{patient['id']}/care-plan/overview", 200)


@covers("CarePlan.create", "CarePlan.get")
def test_care_plan_read(ow, client, recorder, patient):
    patient.CarePlan(overview="Overview message test").create()

    care_plan = patient.CarePlan().get()
    assert recorder.last() == ("GET", f"/{ow.tenant}/sandbox/patients/{patient['id']}/care-plan", 200)
    assert isinstance(care_plan, CarePlanModel)
    assert care_plan.id
    assert set(care_plan) == PLAN_KEYS, sorted(care_plan)
    assert care_plan["patientId"] == patient["id"]
    assert set(care_plan.patientOverview) == OVERVIEW_KEYS
    assert care_plan.patientOverview["overview"] == "Overview message test"

    again = client.CarePlan().get(patient_id=patient["id"])
    assert again["id"] == care_plan["id"]


@covers("CarePlan.get")
def test_care_plan_of_a_new_patient_has_no_overview(client, patient):
    care_plan = client.CarePlan().get(patient_id=patient["id"])
    assert care_plan.id
    assert care_plan["patientOverview"] is None
    assert client.CarePlan().get(patient_id=patient["id"])["id"] == care_plan["id"]


@covers("CarePlan.create", "CarePlan.get", "CarePlanOverview.update")
def test_care_plan_update(ow, client, recorder, patient):
    patient.CarePlan(overview="first").create()
    care_plan = patient.CarePlan().get()
    overview = care_plan.patientOverview["overview"]
    new_overview = "A new overview message 123"

    care_plan.CarePlanOverview(**{"overview": new_overview}).update()
    assert recorder.last() == (
        "PUT", f"/{ow.tenant}/sandbox/patients/{patient['id']}/care-plan/overview", 200)
    assert set(recorder.responses[-1].json()) == OVERVIEW_KEYS

    care_plan = patient.CarePlan().get()
    assert care_plan.patientOverview["overview"] != overview
    assert care_plan.patientOverview["overview"] == new_overview


@covers("CarePlan.create", "CarePlan.get", "CarePlanOverview.update")
def test_care_plan_update_passing_patient_id(client, patient):
    client.CarePlan(overview="first").create(patient_id=patient["id"])
    new_overview = "Why not have a new overview message?"
    client.CarePlanOverview(**{"overview": new_overview}).update(patient_id=patient["id"])
    care_plan = client.CarePlan().get(patient_id=patient["id"])
    assert care_plan.patientOverview["overview"] == new_overview


@covers("CarePlan.create", "CarePlan.get")
def test_care_plan_errors(client, patient):
    with pytest.raises(WelkinHTTPError) as exc:
        client.CarePlan().get(patient_id="00000000-0000-4000-8000-000000000000")
    assert_error(exc.value.response, 404, "PATIENT_NOT_FOUND")

    with pytest.raises(WelkinHTTPError) as exc:
        client.CarePlan(overview=42).create(patient_id=patient["id"])
    first = assert_error(exc.value.response, 400, "VALIDATION_ERROR")
    assert first["details"]["field"] == "overview"
    assert client.CarePlan().get(patient_id=patient["id"])["patientOverview"] is None


def test_goals_comments_and_tasks_over_raw_http(ow, client, api):
    coach = client.User(username=uniq("c"), email=f"{uniq('c')}@example.com",
                        firstName="Cora", lastName="Coach").create()
    patient = client.Patient(firstName="Goal", lastName=uniq("Pat"),
                             careTeam=[{"id": coach["id"]}]).create()
    goals = f"sandbox/patients/{patient['id']}/care-plan/goals"

    r = api.post(goals, json={"goalTemplateName": "eat-fruit"})
    assert r.status_code == 201, r.text
    goal = r.json()
    assert set(goal) == GOAL_KEYS
    assert (goal["name"], goal["status"], goal["templateName"]) == ("Eat Fruit", "ACTIVE", "eat-fruit")

    page = api.get(goals).json()
    assert set(page) == {"data", "metaInfo"} and page["metaInfo"]["lastPage"] is True
    assert [g["id"] for g in page["data"]] == [goal["id"]]

    tasks = api.get(f"{goals}/{goal['id']}/tasks").json()
    assert [t["templateName"] for t in tasks] == ["check-in-on-goal-progress"]
    assert tasks[0]["assignee"]["id"] == coach["id"]
    assert tasks[0]["goalId"] == goal["id"]
    # The goal's task is an ordinary task for the Task model too.
    assert client.Task(id=tasks[0]["id"]).get()["watchersType"] == "POINT_OF_CONTACT"

    r = api.post(f"{goals}/{goal['id']}/comments", json={"text": "test comment"})
    assert r.status_code == 201 and r.json()["text"] == "test comment"
    assert [c["text"] for c in api.get(f"{goals}/{goal['id']}/comments").json()] == ["test comment"]

    r = api.patch(f"{goals}/{goal['id']}", json={"status": "COMPLETED", "priority": "HIGH"})
    assert r.status_code == 200 and (r.json()["status"], r.json()["priority"]) == ("COMPLETED", "HIGH")
    details = api.get(f"{goals}/{goal['id']}").json()
    assert set(details) == {"details", "tasks", "comments"}
    assert details["details"]["status"] == "COMPLETED"

    r = api.post(goals, json={"goalTemplateName": "no-such-template"})
    assert_error(r, 400, "VALIDATION_ERROR")


@covers("CarePlan.get")
def test_care_plans_need_the_care_plan_policy(client, ro_client):
    support.activate(client)
    patient_id = client.Patient(firstName="No", lastName=uniq("Access")).create()["id"]
    support.activate(ro_client)
    with pytest.raises(WelkinHTTPError) as exc:
        ro_client.CarePlan().get(patient_id=patient_id)
    assert_error(exc.value.response, 403, "ACCESS_FOR_API_CLIENT_RESTRICTED", with_date=False)
