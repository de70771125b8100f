"""Tasks, driven through the real welkin client (`Task`, `Tasks`; new in welkin
0.1.12: POST {i}/tasks, GET {i}/tasks/{id}, GET {i}/tasks?page=N with the
metaInfo iterator).

Task creates were never recorded; the expected task is the one Welkin's data audit
shows for eventEntity TASK (spec/client-behaviour.md §9) together with the V8
reference's `author`, and the list envelope is `{data, metaInfo}`.
"""

import json
import uuid

import pytest
from welkin.exceptions import WelkinHTTPError
from welkin.models.task import Task as TaskModel

import support
from parity import covers
from support import TS_RE, assert_error, capped, uniq

TASK_KEYS = {
    "id", "createdAt", "updatedAt", "createdBy", "updatedBy", "createdByName", "updatedByName",
    "name", "templateName", "description", "dueDate", "status", "priority", "patient",
    "assignee", "author", "watchers", "watchersType", "createdType", "comments",
}
META_INFO_KEYS = {
    "page", "pageSize", "totalElements", "numberOfElements", "totalPages", "firstPage",
    "lastPage",
}


def _user(client, first):
    username = uniq("u")
    return client.User(username=username, email=f"{username}@example.com",
                       firstName=first, lastName="Tasker").create()


@pytest.fixture
def people(client):
    """Two users and a patient of the sandbox."""
    ann = _user(client, "Ann")
    bob = _user(client, "Bob")
    patient = client.Patient(firstName="Task", lastName=uniq("Pat")).create()
    return ann, bob, patient


def _sent(recorder):
    body = recorder.responses[-1].request.body
    return json.loads(body) if body else None


@covers("Task.create", "Task.get")
def test_create_and_read_task(ow, client, recorder, people):
    ann, bob, patient = people
    task = client.Task(
        name="Review patient",
        description="Review new patient profile",
        priority="URGENT",
        status="TODO",
        dueDate="2021-05-20T00:00:00.000Z",
        assignee={"id": ann["id"]},
        patient={"id": patient["id"]},
        watchers=[{"id": bob["id"]}],
        comments=[{"text": "Lorem ipsum..."}],
    ).create()

    assert recorder.last("POST") == ("POST", f"/{ow.tenant}/sandbox/tasks", 201)
    assert isinstance(task, TaskModel)
    assert set(task) == TASK_KEYS, sorted(task)
    uuid.UUID(task["id"])
    assert TS_RE.match(task["createdAt"]) and TS_RE.match(task["updatedAt"])
    assert task["status"] == "TODO" and task["priority"] == "URGENT"
    assert task["dueDate"] == "2021-05-20T00:00:00.000Z"
    assert task["assignee"] == {"id": ann["id"], "name": "Ann Tasker", "enabled": False}
    assert task["patient"] == {"id": patient["id"], "name": f"Task {patient['lastName']}"}
    assert [w["id"] for w in task["watchers"]] == [bob["id"]]
    assert task["author"]["name"] == f"API_CLIENT:{ow.client_name}"
    assert [c["text"] for c in task["comments"]] == ["Lorem ipsum..."]

    read = client.Task(id=task["id"]).get()
    assert recorder.last() == ("GET", f"/{ow.tenant}/sandbox/tasks/{task['id']}", 200)
    assert dict(read) == dict(task)


@covers("Task.create", "Tasks.get")
def test_list_tasks_with_meta_info_paging(ow, client, recorder, people):
    ann, bob, _ = people
    marker = uniq("batch-")
    created = [
        client.Task(name=f"{marker}-{n}", status="TODO", priority="LOW",
                    assignee={"id": bob["id"]}).create()
        for n in range(5)
    ]

    # One page of the default size; every item is a Task.
    tasks = client.Tasks().get(params={"assigneeId": bob["id"]})
    assert recorder.last() == ("GET", f"/{ow.tenant}/sandbox/tasks?assigneeId={bob['id']}&page=0", 200)
    body = recorder.responses[-1].json()
    assert set(body) == {"data", "metaInfo"}
    assert set(body["metaInfo"]) == META_INFO_KEYS
    assert body["metaInfo"]["lastPage"] is True
    assert [t["id"] for t in tasks] == [t["id"] for t in created]
    assert all(isinstance(t, TaskModel) for t in tasks)

    # Walking every page of two stops on lastPage.
    recorder.clear()
    walked = list(capped(client.Tasks().get(size=2, paginate=True, params={"assigneeId": bob["id"]}), 50))
    assert [t["id"] for t in walked] == [t["id"] for t in created]
    pages = [c for c in recorder.calls if c[0] == "GET"]
    assert len(pages) == 3, pages
    assert all(p[2] == 200 for p in pages)

    # Filters as the reference names them; lists are comma-joined by the client.
    client.Task(name=f"{marker}-done", status="COMPLETED", priority="HIGH",
                assignee={"id": ann["id"]}, watchers=[{"id": bob["id"]}]).create()
    done = client.Tasks().get(params={"status": ["COMPLETED", "CANCELED"], "search": marker})
    assert [t["name"] for t in done] == [f"{marker}-done"]
    related = client.Tasks().get(params={"relatedUserId": bob["id"], "priority": "HIGH"})
    assert [t["name"] for t in related] == [f"{marker}-done"]


@covers("Task.create", "Task.get")
def test_invalid_tasks_are_refused_with_the_field(ow, client, api, people):
    ann, _, _ = people
    with pytest.raises(WelkinHTTPError) as exc:
        client.Task(name="x", status="DONE", priority="LOW", assignee={"id": ann["id"]}).create()
    first = assert_error(exc.value.response, 400, "VALIDATION_ERROR")
    assert first["details"]["field"] == "status"

    missing = str(uuid.uuid4())
    with pytest.raises(WelkinHTTPError) as exc:
        client.Task(name="x", status="TODO", priority="LOW", assignee={"id": missing}).create()
    first = assert_error(exc.value.response, 400, "VALIDATION_ERROR")
    assert first["details"]["field"] == "assignee.id"

    with pytest.raises(WelkinHTTPError) as exc:
        client.Task(id=missing).get()
    assert_error(exc.value.response, 404, "TASK_NOT_FOUND")

    r = api.get(f"sandbox/tasks?assigneeId={missing}")
    assert r.status_code == 200 and r.json()["metaInfo"]["totalElements"] == 0


@covers("Task.create", "Task.get")
def test_task_updates_over_raw_http(ow, client, api, people):
    """The client has no update methods; the V8 PATCH routes over plain HTTP."""
    ann, bob, _ = people
    task = client.Task(name="Update me", status="TODO", priority="LOW",
                       assignee={"id": ann["id"]}).create()
    base = f"sandbox/tasks/{task['id']}"

    r = api.patch(base, json={"status": "IN_PROGRESS", "priority": "MEDIUM", "name": "New name"})
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["priority"], r.json()["name"]) == ("IN_PROGRESS", "MEDIUM", "New name")

    r = api.patch(f"{base}/watchers", json={"id": bob["id"]})
    assert r.status_code == 200 and [w["id"] for w in r.json()["watchers"]] == [bob["id"]]
    r = api.patch(f"{base}/comments", json={"text": "some comment"})
    comment_id = r.json()["comments"][0]["id"]
    r = api.delete(f"{base}/comments/{comment_id}")
    assert r.status_code == 200 and r.json()["comments"] == []
    r = api.delete(f"{base}/watchers/{bob['id']}")
    assert r.status_code == 200 and r.json()["watchers"] == []

    r = api.patch("sandbox/tasks", json={"taskIds": [task["id"]], "status": "COMPLETED"})
    assert r.status_code == 200 and [t["status"] for t in r.json()] == ["COMPLETED"]
    assert client.Task(id=task["id"]).get()["status"] == "COMPLETED"


@covers("Tasks.get")
def test_tasks_need_the_tasks_policy(ow, ro_client):
    support.activate(ro_client)
    with pytest.raises(WelkinHTTPError) as exc:
        ro_client.Tasks().get()
    assert_error(exc.value.response, 403, "ACCESS_FOR_API_CLIENT_RESTRICTED", with_date=False)
