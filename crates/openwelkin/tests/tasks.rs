//! Tasks over HTTP: the task shape, create/read/partial update, the search filters and
//! the `{data, metaInfo}` envelope, batch status updates, watchers and comments, checked
//! references with nothing written, isolation, the policy 403 and the audit rows.

mod common;

use common::{error_code, unique, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const TASK_KEYS: &[&str] = &[
    "assignee",
    "author",
    "comments",
    "createdAt",
    "createdBy",
    "createdByName",
    "createdType",
    "description",
    "dueDate",
    "id",
    "name",
    "patient",
    "priority",
    "status",
    "templateName",
    "updatedAt",
    "updatedBy",
    "updatedByName",
    "watchers",
    "watchersType",
];

async fn user(s: &Server, token: &str, first: &str) -> String {
    let name = unique("u");
    let body =
        json!({"username": name, "email": format!("{name}@example.org"), "firstName": first, "lastName": "Tester"});
    let (status, u) = s.post(&format!("/{}/admin/users", s.tenant), token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{u}");
    u["id"].as_str().unwrap().to_string()
}

struct Setup {
    s: Server,
    token: String,
    ann: String,
    bob: String,
    pid: String,
}

async fn setup() -> Setup {
    let s = Server::start().await;
    let token = s.token().await;
    let ann = user(&s, &token, "Ann").await;
    let bob = user(&s, &token, "Bob").await;
    let p = s.create_patient(&token, json!({"firstName": "Pat", "lastName": "Ient"})).await;
    let pid = p["id"].as_str().unwrap().to_string();
    Setup { s, token, ann, bob, pid }
}

impl Setup {
    fn tasks(&self) -> String {
        self.s.sandbox("/tasks")
    }

    async fn create(&self, body: Value) -> Value {
        let (status, t) = self.s.post(&self.tasks(), &self.token, body).await;
        assert_eq!(status, StatusCode::CREATED, "{t}");
        t
    }

    async fn simple(&self, name: &str, extra: Value) -> Value {
        let mut body = json!({"name": name, "status": "TODO", "priority": "LOW", "assignee": {"id": self.ann}});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        self.create(body).await
    }

    async fn search(&self, query: &str) -> Value {
        let (status, page) = self.s.get(&format!("{}?{query}", self.tasks()), &self.token).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        page
    }

    async fn names(&self, query: &str) -> Vec<String> {
        let page = self.search(query).await;
        page["data"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_string()).collect()
    }
}

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn create_read_update_with_the_recorded_shapes() {
    let t = setup().await;
    let (s, token) = (&t.s, &t.token);
    let created = t
        .create(json!({
            "name": "Review patient", "description": "Review new patient profile", "priority": "URGENT", "status": "TODO",
            "dueDate": "2021-05-20T00:00:00.000Z", "assignee": {"id": t.ann}, "patient": {"id": t.pid},
            "watchers": [{"id": t.bob}], "comments": [{"text": "Lorem ipsum..."}], "templateName": "ttmp-review",
        }))
        .await;
    assert_eq!(keys(&created), TASK_KEYS);
    assert_eq!(created["assignee"], json!({"id": t.ann, "name": "Ann Tester", "enabled": false}));
    assert_eq!(created["patient"], json!({"id": t.pid, "name": "Pat Ient"}));
    assert_eq!(created["watchers"], json!([{"id": t.bob, "name": "Bob Tester", "enabled": false}]));
    let client_name = format!("API_CLIENT:{}", s.client);
    assert_eq!(created["author"]["name"], json!(client_name));
    assert_eq!(created["createdByName"], json!(client_name));
    assert_eq!(
        (created["status"].as_str(), created["priority"].as_str(), created["dueDate"].as_str()),
        (Some("TODO"), Some("URGENT"), Some("2021-05-20T00:00:00.000Z"))
    );
    assert_eq!(created["templateName"], "ttmp-review");
    let comment = &created["comments"][0];
    assert_eq!(comment["text"], "Lorem ipsum...");
    assert_eq!(comment["author"], created["author"]);
    for key in ["id", "createdAt"] {
        assert!(comment[key].is_string(), "comment lacks {key}: {comment}");
    }

    let id = created["id"].as_str().unwrap();
    let url = format!("{}/{id}", t.tasks());
    let (status, read) = s.get(&url, token).await;
    assert_eq!((status, &read), (StatusCode::OK, &created));

    let (status, updated) = s
        .patch(
            &url,
            token,
            json!({"name": "New name", "status": "in_progress", "priority": "MEDIUM", "dueDate": "2021-07-20"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        (
            updated["name"].as_str(),
            updated["status"].as_str(),
            updated["priority"].as_str(),
            updated["dueDate"].as_str()
        ),
        (Some("New name"), Some("IN_PROGRESS"), Some("MEDIUM"), Some("2021-07-20T00:00:00.000Z"))
    );
    assert_eq!(updated["createdAt"], created["createdAt"]);
    assert!(updated["updatedAt"].as_str() >= created["updatedAt"].as_str());
    assert_eq!(updated["watchers"], created["watchers"], "a PATCH keeps the watchers");
    assert_eq!(updated["description"], created["description"]);

    // Reassign and unlink the patient; then clear the due date.
    let (_, updated) = s.patch(&url, token, json!({"assignee": {"id": t.bob}, "patient": null, "dueDate": null})).await;
    assert_eq!(updated["assignee"]["id"], json!(t.bob));
    assert_eq!((updated["patient"].clone(), updated["dueDate"].clone()), (Value::Null, Value::Null));
    assert_eq!(s.get(&url, token).await.1, updated);

    let (status, err) = s.get(&t.s.sandbox(&format!("/tasks/{}", uuid::Uuid::new_v4())), token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "TASK_NOT_FOUND"));
}

#[tokio::test]
async fn invalid_bodies_and_references_name_the_field_and_write_nothing() {
    let t = setup().await;
    let (s, token) = (&t.s, &t.token);
    let ok = json!({"name": "n", "status": "TODO", "priority": "LOW", "assignee": {"id": t.ann}});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let without = |k: &str| {
        let mut b = ok.clone();
        b.as_object_mut().unwrap().remove(k);
        b
    };
    let missing_user = uuid::Uuid::new_v4().to_string();
    let cases = [
        (without("name"), "name"),
        (without("status"), "status"),
        (without("priority"), "priority"),
        (without("assignee"), "assignee"),
        (with("status", json!("DONE")), "status"),
        (with("priority", json!("CRITICAL")), "priority"),
        (with("dueDate", json!("soon")), "dueDate"),
        (with("assignee", json!({"id": missing_user})), "assignee.id"),
        (with("assignee", json!({"id": "not-a-uuid"})), "assignee.id"),
        (with("watchers", json!([{"id": t.bob}, {"id": missing_user}])), "watchers[1].id"),
        (with("patient", json!({"id": missing_user})), "patient.id"),
        (with("comments", json!([{"text": ""}])), "comments[0].text"),
        (with("author", json!({"id": t.ann})), "author"),
        (with("colour", json!("red")), "colour"),
    ];
    for (body, field) in cases {
        let (status, err) = s.post(&t.tasks(), token, body.clone()).await;
        assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"), "{body}: {err}");
        assert_eq!(err[0]["details"]["field"], json!(field), "{body}: {err}");
        assert_eq!(err[0]["componentType"], "TASK");
    }
    // A patient of the other instance is not a patient here.
    let live_patient =
        s.post(&format!("/{}/live/patients", s.tenant), token, json!({"firstName": "L", "lastName": "P"})).await.1;
    let (status, err) = s.post(&t.tasks(), token, with("patient", json!({"id": live_patient["id"]}))).await;
    assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("patient.id")));
    assert_eq!(t.search("").await["metaInfo"]["totalElements"], 0, "nothing was written");

    let task = t.simple("keep", json!({})).await;
    let url = format!("{}/{}", t.tasks(), task["id"].as_str().unwrap());
    for (body, field) in [
        (json!({"status": "FINISHED"}), "status"),
        (json!({"assignee": {"id": missing_user}}), "assignee.id"),
        (json!({"assignee": null}), "assignee"),
        (json!({"watchers": []}), "watchers"),
        (json!({"comments": []}), "comments"),
        (json!({"name": "  "}), "name"),
        (json!({"id": "x"}), "id"),
    ] {
        let (status, err) = s.patch(&url, token, body.clone()).await;
        assert_eq!(
            (status, err[0]["details"]["field"].as_str()),
            (StatusCode::BAD_REQUEST, Some(field)),
            "{body}: {err}"
        );
    }
    assert_eq!(s.get(&url, token).await.1, task, "refused updates change nothing");
    let (status, err) = s.patch(&t.s.sandbox(&format!("/tasks/{missing_user}")), token, json!({"name": "x"})).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "TASK_NOT_FOUND"));
    let (status, err) = s.call(Method::POST, &t.tasks(), Some(token), None).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "MALFORMED_JSON"));
}

#[tokio::test]
async fn search_filters_sorts_and_pages() {
    let t = setup().await;
    let a = t
        .simple(
            "Call patient",
            json!({"priority": "HIGH", "patient": {"id": t.pid}, "dueDate": "2024-03-01T10:00:00.000Z", "description": "Ask about sleep"}),
        )
        .await;
    t.simple(
        "Write letter",
        json!({"status": "COMPLETED", "assignee": {"id": t.bob}, "watchers": [{"id": t.ann}], "dueDate": "2024-03-02T10:00:00.000Z"}),
    )
    .await;
    t.simple(
        "Book visit",
        json!({"priority": "URGENT", "description": "Sleep clinic", "dueDate": "2024-03-01T23:30:00.000Z"}),
    )
    .await;
    t.simple("File report", json!({"status": "CANCELED", "assignee": {"id": t.bob}})).await;

    let page = t.search("").await;
    assert_eq!(keys(&page), ["data", "metaInfo"]);
    assert_eq!(
        page["metaInfo"],
        json!({"page": 0, "pageSize": 20, "totalElements": 4, "numberOfElements": 4, "totalPages": 1, "firstPage": true, "lastPage": true})
    );
    assert_eq!(t.names("").await, ["Call patient", "Write letter", "Book visit", "File report"], "oldest first");
    assert_eq!(t.names(&format!("assigneeId={}", t.bob)).await, ["Write letter", "File report"]);
    assert_eq!(t.names(&format!("patientId={}", t.pid)).await, ["Call patient"]);
    assert_eq!(t.names(&format!("watcherId={}", t.ann)).await, ["Write letter"]);
    assert_eq!(t.names(&format!("relatedUserId={}", t.bob)).await, ["Write letter", "File report"]);
    assert_eq!(t.names(&format!("relatedUserId={}", t.ann)).await, ["Call patient", "Write letter", "Book visit"]);
    let author = a["author"]["id"].as_str().unwrap();
    assert_eq!(t.names(&format!("authorId={author}")).await.len(), 4);
    assert_eq!(t.names(&format!("authorId={}", t.ann)).await.len(), 0);
    assert_eq!(t.names("status=COMPLETED,CANCELED").await, ["Write letter", "File report"]);
    assert_eq!(t.names("status=todo&priority=URGENT,HIGH").await, ["Call patient", "Book visit"]);
    assert_eq!(t.names("dueDate=2024-03-01").await, ["Call patient", "Book visit"]);
    assert_eq!(t.names("dueDate=2024-03-02T00:00:00.000Z").await, ["Write letter"]);
    assert_eq!(t.names("dueBefore=2024-03-01T12:00:00.000Z").await, ["Call patient"]);
    assert_eq!(t.names("description=SLEEP").await, ["Call patient", "Book visit"]);
    assert_eq!(t.names("search=letter").await, ["Write letter"]);
    assert_eq!(t.names("search=clinic").await, ["Book visit"]);
    assert_eq!(t.names("search=100%25").await.len(), 0, "LIKE wildcards are literal");
    assert_eq!(t.names("sort=priority,desc").await, ["Book visit", "Call patient", "Write letter", "File report"]);
    assert_eq!(t.names("sort=dueDate,asc").await, ["Call patient", "Book visit", "Write letter", "File report"]);
    assert_eq!(t.names("sort=name,asc").await, ["Book visit", "Call patient", "File report", "Write letter"]);

    let first = t.search("size=3&sort=name,asc").await;
    assert_eq!(first["metaInfo"]["lastPage"], false);
    assert_eq!(first["metaInfo"]["totalPages"], 2);
    let second = t.search("size=3&page=1&sort=name,asc").await;
    assert_eq!((second["metaInfo"]["lastPage"].as_bool(), second["data"].as_array().unwrap().len()), (Some(true), 1));
    assert_eq!(second["data"][0]["name"], "Write letter");

    for query in ["status=DONE", "priority=NOW", "dueDate=someday", "dueBefore=x", "sort=colour,asc", "size=0"] {
        let (status, err) = t.s.get(&format!("{}?{query}", t.tasks()), &t.token).await;
        assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "INVALID_PARAMETER"), "{query}");
    }
}

#[tokio::test]
async fn batch_status_updates_are_all_or_nothing() {
    let t = setup().await;
    let (s, token) = (&t.s, &t.token);
    let one = t.simple("one", json!({})).await;
    let two = t.simple("two", json!({})).await;
    let (id1, id2) = (one["id"].as_str().unwrap(), two["id"].as_str().unwrap());
    let missing = uuid::Uuid::new_v4().to_string();
    let (status, err) = s.patch(&t.tasks(), token, json!({"taskIds": [id1, missing], "status": "COMPLETED"})).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "TASK_NOT_FOUND"));
    assert_eq!(t.names("status=COMPLETED").await.len(), 0, "nothing changed");
    for (body, field) in [
        (json!({"taskIds": [id1], "status": "DONE"}), "status"),
        (json!({"taskIds": [], "status": "COMPLETED"}), "taskIds"),
        (json!({"status": "COMPLETED"}), "taskIds"),
        (json!({"taskIds": [id1]}), "status"),
    ] {
        let (status, err) = s.patch(&t.tasks(), token, body).await;
        assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)));
    }
    let (status, done) = s.patch(&t.tasks(), token, json!({"taskIds": [id2, id1, id2], "status": "COMPLETED"})).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    let done = done.as_array().unwrap();
    assert_eq!(done.len(), 2);
    assert_eq!(done[0]["id"], json!(id2));
    assert!(done.iter().all(|t| t["status"] == "COMPLETED" && t.as_object().unwrap().len() == TASK_KEYS.len()));
    assert_eq!(t.names("status=COMPLETED").await, ["one", "two"]);
}

#[tokio::test]
async fn watchers_and_comments_are_added_and_removed() {
    let t = setup().await;
    let (s, token) = (&t.s, &t.token);
    let task = t.simple("watch me", json!({})).await;
    let url = format!("{}/{}", t.tasks(), task["id"].as_str().unwrap());

    let (status, w) = s.patch(&format!("{url}/watchers"), token, json!({"id": t.bob})).await;
    assert_eq!(status, StatusCode::OK, "{w}");
    assert_eq!(w["watchers"], json!([{"id": t.bob, "name": "Bob Tester", "enabled": false}]));
    let (_, again) = s.patch(&format!("{url}/watchers"), token, json!({"id": t.bob})).await;
    assert_eq!(again["watchers"].as_array().unwrap().len(), 1, "a watcher is listed once");
    let missing = uuid::Uuid::new_v4().to_string();
    let (status, err) = s.patch(&format!("{url}/watchers"), token, json!({"id": missing})).await;
    assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("id")));
    let (status, err) = s.patch(&format!("{url}/watchers"), token, json!({})).await;
    assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("id")));
    assert_eq!(t.names(&format!("watcherId={}", t.bob)).await, ["watch me"]);

    let (status, w) = s.delete(&format!("{url}/watchers/{}", t.bob), token).await;
    assert_eq!((status, w["watchers"].clone()), (StatusCode::OK, json!([])));
    let (status, err) = s.delete(&format!("{url}/watchers/{}", t.bob), token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "TASK_WATCHER_NOT_FOUND"));
    assert_eq!(t.names(&format!("watcherId={}", t.bob)).await.len(), 0);

    let (status, c) = s.patch(&format!("{url}/comments"), token, json!({"text": "first"})).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    let (_, c) = s.patch(&format!("{url}/comments"), token, json!({"text": "second"})).await;
    let texts: Vec<&str> = c["comments"].as_array().unwrap().iter().map(|c| c["text"].as_str().unwrap()).collect();
    assert_eq!(texts, ["first", "second"]);
    let first_id = c["comments"][0]["id"].as_str().unwrap();
    let (status, err) = s.patch(&format!("{url}/comments"), token, json!({"text": ""})).await;
    assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("text")));
    let (status, c) = s.delete(&format!("{url}/comments/{first_id}"), token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(c["comments"].as_array().unwrap().len(), 1);
    assert_eq!(c["comments"][0]["text"], "second");
    let (status, err) = s.delete(&format!("{url}/comments/{first_id}"), token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "TASK_COMMENT_NOT_FOUND"));
    assert_eq!(s.get(&url, token).await.1, c);
    let missing_task = t.s.sandbox(&format!("/tasks/{missing}"));
    assert_eq!(
        s.patch(&format!("{missing_task}/comments"), token, json!({"text": "x"})).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        s.patch(&format!("{missing_task}/watchers"), token, json!({"id": t.bob})).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn tasks_show_current_names_and_go_with_their_patient() {
    let t = setup().await;
    let (s, token) = (&t.s, &t.token);
    let task = t.simple("named", json!({"patient": {"id": t.pid}, "watchers": [{"id": t.bob}]})).await;
    let url = format!("{}/{}", t.tasks(), task["id"].as_str().unwrap());
    let username = s.get(&format!("/{}/admin/users/{}?type=ID", s.tenant, t.bob), token).await.1["username"].clone();
    let (status, _) = s
        .patch(
            &format!("/{}/admin/users/{}", s.tenant, username.as_str().unwrap()),
            token,
            json!({"firstName": "Robert"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    s.patch(&s.sandbox(&format!("/patients/{}", t.pid)), token, json!({"lastName": "Renamed"})).await;
    let read = s.get(&url, token).await.1;
    assert_eq!(read["watchers"][0]["name"], "Robert Tester");
    assert_eq!(read["patient"]["name"], "Pat Renamed");

    let (status, _) = s.delete(&s.sandbox(&format!("/patients/{}", t.pid)), token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s.get(&url, token).await.0, StatusCode::NOT_FOUND, "a deleted patient's tasks go with it");
}

#[tokio::test]
async fn tasks_are_isolated_between_instances() {
    let t = setup().await;
    let (s, token) = (&t.s, &t.token);
    let task = t.simple("sandbox only", json!({})).await;
    let id = task["id"].as_str().unwrap();
    let live = format!("/{}/live/tasks", s.tenant);
    let (status, err) = s.get(&format!("{live}/{id}"), token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "TASK_NOT_FOUND"));
    assert_eq!(s.get(&live, token).await.1["metaInfo"]["totalElements"], 0);
    assert_eq!(s.patch(&format!("{live}/{id}"), token, json!({"name": "x"})).await.0, StatusCode::NOT_FOUND);
    let (status, _) = s.patch(&live, token, json!({"taskIds": [id], "status": "COMPLETED"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(s.get(&format!("{}/{id}", t.tasks()), token).await.1, task);
}

#[tokio::test]
async fn the_policy_guards_every_task_route() {
    let t = setup().await;
    let s = &t.s;
    let task = t.simple("guarded", json!({})).await;
    let id = task["id"].as_str().unwrap().to_string();
    let (name, secret) = s.client_with_policy(&json!({"permissions": {"patients": ["read"], "tasks": ["read"]}}), None);
    let reader = s.token_for(&name, &secret).await;
    assert_eq!(s.get(&format!("{}/{id}", t.tasks()), &reader).await.0, StatusCode::OK);
    assert_eq!(s.get(&t.tasks(), &reader).await.0, StatusCode::OK);
    let body = json!({"name": "n", "status": "TODO", "priority": "LOW", "assignee": {"id": t.ann}});
    let writes = [
        (Method::POST, t.tasks(), Some(body)),
        (Method::PATCH, format!("{}/{id}", t.tasks()), Some(json!({"name": "x"}))),
        (Method::PATCH, t.tasks(), Some(json!({"taskIds": [id], "status": "COMPLETED"}))),
        (Method::PATCH, format!("{}/{id}/watchers", t.tasks()), Some(json!({"id": t.bob}))),
        (Method::DELETE, format!("{}/{id}/watchers/{}", t.tasks(), t.bob), None),
        (Method::PATCH, format!("{}/{id}/comments", t.tasks()), Some(json!({"text": "x"}))),
        (Method::DELETE, format!("{}/{id}/comments/{id}", t.tasks()), None),
    ];
    for (method, path, body) in writes {
        let (status, err) = s.call(method.clone(), &path, Some(&reader), body).await;
        assert_eq!(
            (status, error_code(&err).as_str()),
            (StatusCode::FORBIDDEN, "ACCESS_FOR_API_CLIENT_RESTRICTED"),
            "{method} {path}"
        );
        assert!(err[0].get("date").is_none());
    }
    let (name, secret) = s.client_with_policy(&json!({"permissions": {"patients": ["read"]}}), None);
    let none = s.token_for(&name, &secret).await;
    assert_eq!(s.get(&t.tasks(), &none).await.0, StatusCode::FORBIDDEN);
    assert_eq!(s.get(&format!("{}/{id}", t.tasks()), &none).await.0, StatusCode::FORBIDDEN);
    assert_eq!(s.get(&format!("{}/{id}", t.tasks()), &t.token).await.1, task, "nothing changed");
}

#[tokio::test]
async fn task_writes_are_audited_with_their_events() {
    let t = setup().await;
    let (s, token) = (&t.s, &t.token);
    let task = t.simple("audited", json!({"patient": {"id": t.pid}})).await;
    let id = task["id"].as_str().unwrap();
    s.patch(&format!("{}/{id}", t.tasks()), token, json!({"status": "IN_PROGRESS"})).await;
    s.patch(&format!("{}/{id}/comments", t.tasks()), token, json!({"text": "note"})).await;
    let (status, audit) = s.get(&format!("/{}/admin/audit-data?entity=TASK", s.tenant), token).await;
    assert_eq!(status, StatusCode::OK, "{audit}");
    let rows: Vec<&Value> =
        audit["data"].as_array().unwrap().iter().filter(|r| r["record"]["id"] == json!(id)).collect();
    let mut events: Vec<&str> = rows.iter().map(|r| r["eventSubtype"].as_str().unwrap()).collect();
    events.sort();
    assert_eq!(events, ["TASK_CREATED", "TASK_UPDATED", "TASK_UPDATED"], "{audit}");
    for r in &rows {
        assert_eq!((r["eventEntity"].as_str(), r["instance"].as_str()), (Some("TASK"), Some("sandbox")));
        assert_eq!((r["patientId"].as_str(), r["patientFullName"].as_str()), (Some(t.pid.as_str()), Some("Pat Ient")));
    }
    let created = rows.iter().find(|r| r["eventSubtype"] == "TASK_CREATED").unwrap();
    assert_eq!((created["operation"].as_str(), created["record"]["status"].as_str()), (Some("CREATE"), Some("TODO")));
    assert!(rows.iter().any(|r| r["record"]["comments"][0]["text"] == "note"), "the comment's update is audited");
}
