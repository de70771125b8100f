//! Care plans over HTTP: the overview (POST and PUT answer 200 as recorded), the care
//! plan read, goals from goal templates with their tasks assigned per subject, goal
//! list/read/patch, goal comments and goal tasks; refusals that write nothing,
//! isolation, the policy 403 and the audit rows.

mod common;

use common::{error_code, unique, Server, FIXTURE_DESIGNER};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const OVERVIEW_KEYS: &[&str] = &["createdAt", "createdByName", "overview", "updatedAt", "updatedByName"];
const PLAN_KEYS: &[&str] =
    &["createdAt", "createdByName", "id", "patientId", "patientOverview", "updatedAt", "updatedByName"];
const GOAL_KEYS: &[&str] = &[
    "createdAt",
    "createdByName",
    "id",
    "name",
    "priority",
    "status",
    "templateName",
    "type",
    "updatedAt",
    "updatedByName",
];
const COMMENT_KEYS: &[&str] = &["createdAt", "createdByName", "id", "text", "updatedAt", "updatedByName"];

fn keys(v: &Value) -> Vec<String> {
    v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect()
}

async fn user(s: &Server, token: &str, first: &str) -> String {
    let name = unique("u");
    let body =
        json!({"username": name, "email": format!("{name}@example.org"), "firstName": first, "lastName": "Coach"});
    let (status, u) = s.post(&format!("/{}/admin/users", s.tenant), token, body).await;
    assert_eq!(status, StatusCode::CREATED, "{u}");
    u["id"].as_str().unwrap().to_string()
}

async fn patient(s: &Server, token: &str, body: Value) -> String {
    s.create_patient(token, body).await["id"].as_str().unwrap().to_string()
}

fn plan(s: &Server, pid: &str) -> String {
    s.sandbox(&format!("/patients/{pid}/care-plan"))
}

#[tokio::test]
async fn overview_create_read_update_as_recorded() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let pid = patient(&s, &token, json!({"firstName": "Over", "lastName": "View"})).await;
    let url = plan(&s, &pid);

    let (status, fresh) = s.get(&url, &token).await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    assert_eq!(keys(&fresh), PLAN_KEYS);
    assert_eq!((fresh["patientId"].as_str(), fresh["patientOverview"].clone()), (Some(pid.as_str()), Value::Null));
    assert_eq!(s.get(&url, &token).await.1["id"], fresh["id"], "the plan keeps its id before it is stored");

    let (status, created) =
        s.post(&format!("{url}/overview"), &token, json!({"overview": "This is a message for the overview."})).await;
    assert_eq!(status, StatusCode::OK, "the recorded create answers 200: {created}");
    assert_eq!(keys(&created), OVERVIEW_KEYS);
    assert_eq!(created["overview"], "This is a message for the overview.");
    assert_eq!(created["createdByName"], json!(format!("API_CLIENT:{}", s.client)));
    let (_, read) = s.get(&url, &token).await;
    assert_eq!(read["id"], fresh["id"]);
    assert_eq!(read["patientOverview"], created);
    assert_eq!(read["createdAt"], fresh["createdAt"]);
    assert_eq!(read["updatedAt"], created["updatedAt"]);

    let (status, updated) = s
        .call(
            Method::PUT,
            &format!("{url}/overview"),
            Some(&token),
            Some(json!({"overview": "A new overview message 123"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(keys(&updated), OVERVIEW_KEYS);
    assert_eq!(updated["createdAt"], created["createdAt"]);
    assert!(updated["updatedAt"].as_str() >= created["updatedAt"].as_str());
    assert_eq!(s.get(&url, &token).await.1["patientOverview"]["overview"], "A new overview message 123");
    // POST on an existing overview replaces it (the recorded create has updatedAt > createdAt).
    let (_, again) = s.post(&format!("{url}/overview"), &token, json!({"overview": ""})).await;
    assert_eq!((again["overview"].as_str(), again["createdAt"].clone()), (Some(""), created["createdAt"].clone()));

    for (method, body, field) in [
        (Method::POST, json!({}), "overview"),
        (Method::PUT, json!({"overview": 3}), "overview"),
        (Method::PUT, json!({"overview": "x", "patientId": pid}), "patientId"),
    ] {
        let (status, err) = s.call(method, &format!("{url}/overview"), Some(&token), Some(body)).await;
        assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{err}");
    }
    assert_eq!(s.get(&url, &token).await.1["patientOverview"]["overview"], "", "refusals change nothing");

    let missing = uuid::Uuid::new_v4();
    let (status, err) = s.get(&plan(&s, &missing.to_string()), &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "PATIENT_NOT_FOUND"));
    let (status, _) =
        s.post(&format!("{}/overview", plan(&s, &missing.to_string())), &token, json!({"overview": "x"})).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // The same patient id in the other instance is not found.
    let live = format!("/{}/live/patients/{pid}/care-plan", s.tenant);
    assert_eq!(s.get(&live, &token).await.0, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn goals_from_templates_create_their_tasks() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let coach = user(&s, &token, "Cora").await;
    let pid =
        patient(&s, &token, json!({"firstName": "Goal", "lastName": "Getter", "careTeam": [{"id": coach}]})).await;
    let goals = format!("{}/goals", plan(&s, &pid));

    let (status, goal) = s.post(&goals, &token, json!({"goalTemplateName": "eat-fruit"})).await;
    assert_eq!(status, StatusCode::CREATED, "{goal}");
    assert_eq!(keys(&goal), GOAL_KEYS);
    assert_eq!(
        (
            goal["name"].as_str(),
            goal["type"].as_str(),
            goal["priority"].as_str(),
            goal["status"].as_str(),
            goal["templateName"].as_str()
        ),
        (Some("Eat Fruit"), Some("dietary"), Some("LOW"), Some("ACTIVE"), Some("eat-fruit"))
    );
    let gid = goal["id"].as_str().unwrap();

    // The template's task template (POINT_OF_CONTACT) became a task for the point of contact.
    let (status, tasks) = s.get(&format!("{goals}/{gid}/tasks"), &token).await;
    assert_eq!(status, StatusCode::OK);
    let tasks = tasks.as_array().unwrap();
    assert_eq!(tasks.len(), 1);
    let t = &tasks[0];
    assert_eq!(t["assignee"], json!({"id": coach, "name": "Cora Coach", "enabled": false}));
    assert_eq!(t["watchers"], json!([t["assignee"]]));
    assert_eq!(
        (t["name"].as_str(), t["templateName"].as_str(), t["status"].as_str(), t["priority"].as_str()),
        (Some("Check in on goal progress"), Some("check-in-on-goal-progress"), Some("TODO"), Some("LOW"))
    );
    assert_eq!((t["goalId"].as_str(), t["watchersType"].as_str()), (Some(gid), Some("POINT_OF_CONTACT")));
    assert_eq!(t["patient"], json!({"id": pid, "name": "Goal Getter"}));
    assert_eq!(t["createdType"], "CARE_PLAN");
    // It is a task like any other.
    let (_, same) = s.get(&s.sandbox(&format!("/tasks/{}", t["id"].as_str().unwrap())), &token).await;
    assert_eq!(&same, t);
    let (_, found) = s.get(&s.sandbox(&format!("/tasks?assigneeId={coach}")), &token).await;
    assert_eq!(found["data"].as_array().unwrap().len(), 1);

    let (status, details) = s.get(&format!("{goals}/{gid}"), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&details), ["comments", "details", "tasks"]);
    assert_eq!(
        (&details["details"], details["tasks"].as_array().unwrap(), &details["comments"]),
        (&goal, tasks, &json!([]))
    );

    // A patient without a point of contact gets the task unassigned.
    let lone = patient(&s, &token, json!({"firstName": "No", "lastName": "Team"})).await;
    let (_, g2) = s.post(&format!("{}/goals", plan(&s, &lone)), &token, json!({"goalTemplateName": "eat-fruit"})).await;
    let (_, t2) = s.get(&format!("{}/goals/{}/tasks", plan(&s, &lone), g2["id"].as_str().unwrap()), &token).await;
    assert_eq!((t2[0]["assignee"].clone(), t2[0]["watchers"].clone()), (Value::Null, json!([])));

    // An unknown template is refused and nothing is written.
    let (status, err) = s.post(&goals, &token, json!({"goalTemplateName": "run-marathon"})).await;
    assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("goalTemplateName")));
    for body in [json!({}), json!({"goalTemplateName": "eat-fruit", "status": "ACTIVE"})] {
        assert_eq!(s.post(&goals, &token, body).await.0, StatusCode::BAD_REQUEST);
    }
    assert_eq!(s.get(&goals, &token).await.1["metaInfo"]["totalElements"], 1);
    assert_eq!(s.get(&s.sandbox("/tasks"), &token).await.1["metaInfo"]["totalElements"], 2);
}

#[tokio::test]
async fn role_subjects_go_to_a_user_with_the_role() {
    let s = Server::start().await;
    // The fixture designer plus a role and a goal template with a ROLE task template.
    let dir = tempfile::tempdir().unwrap();
    copy_dir(std::path::Path::new(FIXTURE_DESIGNER), dir.path());
    std::fs::create_dir_all(dir.path().join("roles")).unwrap();
    std::fs::write(dir.path().join("roles/pushup-coach.yaml"), "name: pushup-coach\ntitle: Pushup Coach\n").unwrap();
    std::fs::write(
        dir.path().join("goal-templates/pushups.yaml"),
        "name: pushups\ngoalName: Pushups\ntype: exercise\npriority: MEDIUM\ntaskTemplates:\n  - name: ttmp-count-pushups\n    subjectConfig: {type: ROLE, roleName: pushup-coach}\n  - name: ttmp-ask-poc\n    subjectConfig: {type: POINT_OF_CONTACT}\n",
    )
    .unwrap();
    s.cli(&["designer", "apply", dir.path().to_str().unwrap(), "--tenant", &s.tenant]);
    let token = s.token().await;
    let pid = patient(&s, &token, json!({"firstName": "Push", "lastName": "Up"})).await;
    let goals = format!("{}/goals", plan(&s, &pid));

    // Nobody holds the role yet: the task is created unassigned.
    let (_, g) = s.post(&goals, &token, json!({"goalTemplateName": "pushups"})).await;
    let (_, t) = s.get(&format!("{goals}/{}/tasks", g["id"].as_str().unwrap()), &token).await;
    assert_eq!(t[0]["assignee"], Value::Null, "{t}");

    let _other = user(&s, &token, "Other").await;
    let coach = user(&s, &token, "Hal").await;
    let permissions = json!({"permissions": [{"permissionName": "pushup-coach", "instanceName": "sandbox", "type": "SECURITY_ROLE"}]});
    let (status, body) = s
        .call(Method::PUT, &format!("/{}/admin/user-permissions/{coach}", s.tenant), Some(&token), Some(permissions))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, g) = s.post(&goals, &token, json!({"goalTemplateName": "pushups"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(g["priority"], "MEDIUM");
    let (_, t) = s.get(&format!("{goals}/{}/tasks", g["id"].as_str().unwrap()), &token).await;
    let by_template = |name: &str| t.as_array().unwrap().iter().find(|x| x["templateName"] == name).unwrap().clone();
    let role_task = by_template("ttmp-count-pushups");
    assert_eq!(
        (role_task["assignee"]["id"].as_str(), role_task["watchersType"].as_str()),
        (Some(coach.as_str()), Some("ROLE"))
    );
    assert_eq!((role_task["name"].as_str(), role_task["priority"].as_str()), (Some("Count pushups"), Some("MEDIUM")));
    assert_eq!(by_template("ttmp-ask-poc")["assignee"], Value::Null);
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test]
async fn goals_are_listed_patched_commented_and_given_tasks() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let ann = user(&s, &token, "Ann").await;
    let pid = patient(&s, &token, json!({"firstName": "Lis", "lastName": "Ted"})).await;
    let goals = format!("{}/goals", plan(&s, &pid));
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(
            s.post(&goals, &token, json!({"goalTemplateName": "eat-fruit"})).await.1["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }

    let (status, page) = s.get(&format!("{goals}?size=2"), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keys(&page), ["data", "metaInfo"]);
    assert_eq!(
        page["metaInfo"],
        json!({"page": 0, "pageSize": 2, "totalElements": 3, "numberOfElements": 2, "totalPages": 2, "firstPage": true, "lastPage": false})
    );
    assert!(page["data"].as_array().unwrap().iter().all(|g| keys(g) == GOAL_KEYS));
    assert_eq!(s.get(&format!("{goals}?size=2&page=1"), &token).await.1["metaInfo"]["lastPage"], true);

    let g0 = format!("{goals}/{}", ids[0]);
    let (status, patched) =
        s.patch(&g0, &token, json!({"name": "Eat more fruit", "priority": "HIGH", "status": "COMPLETED"})).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert_eq!(keys(&patched), GOAL_KEYS);
    assert_eq!(
        (patched["name"].as_str(), patched["priority"].as_str(), patched["status"].as_str(), patched["type"].as_str()),
        (Some("Eat more fruit"), Some("HIGH"), Some("COMPLETED"), Some("dietary"))
    );
    for (body, field) in [
        (json!({"status": "PAUSED"}), "status"),
        (json!({"priority": "URGENT"}), "priority"),
        (json!({"name": ""}), "name"),
        (json!({"templateName": "x"}), "templateName"),
    ] {
        let (status, err) = s.patch(&g0, &token, body).await;
        assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{err}");
    }
    assert_eq!(s.get(&g0, &token).await.1["details"], patched, "refused patches change nothing");

    let ids_of = |page: Value| -> Vec<String> {
        page["data"].as_array().unwrap().iter().map(|g| g["id"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(ids_of(s.get(&format!("{goals}?status=COMPLETED"), &token).await.1), [ids[0].clone()]);
    assert_eq!(
        ids_of(s.get(&format!("{goals}?status=ACTIVE,REMOVED"), &token).await.1),
        [ids[1].clone(), ids[2].clone()]
    );
    assert_eq!(ids_of(s.get(&format!("{goals}?sort=priority,desc"), &token).await.1)[0], ids[0]);
    let (status, err) = s.get(&format!("{goals}?status=DONE"), &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "INVALID_PARAMETER"));

    // Comments.
    let comments = format!("{g0}/comments");
    assert_eq!(s.get(&comments, &token).await.1, json!([]));
    let (status, c) = s.post(&comments, &token, json!({"text": "test comment"})).await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert_eq!(keys(&c), COMMENT_KEYS);
    assert_eq!(c["text"], "test comment");
    let (status, err) = s.post(&comments, &token, json!({"text": " "})).await;
    assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("text")));
    assert_eq!(s.get(&comments, &token).await.1, json!([c]));
    assert_eq!(s.get(&g0, &token).await.1["comments"], json!([c]));

    // Tasks added to a goal.
    let g1 = format!("{goals}/{}", ids[1]);
    let body = json!({"name": "task1", "description": "", "dueDate": "2021-05-05T12:21:31.534Z", "status": "TODO", "priority": "LOW", "assignee": {"id": ann}});
    let (status, t) = s.post(&format!("{g1}/tasks"), &token, body.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{t}");
    assert_eq!((t["goalId"].as_str(), t["patient"]["id"].as_str()), (Some(ids[1].as_str()), Some(pid.as_str())));
    assert_eq!(t["assignee"]["id"], json!(ann));
    let other = patient(&s, &token, json!({"firstName": "O", "lastName": "P"})).await;
    let mut wrong = body.clone();
    wrong["patient"] = json!({"id": other});
    let (status, err) = s.post(&format!("{g1}/tasks"), &token, wrong).await;
    assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("patient.id")));
    let mut no_user = body.clone();
    no_user["assignee"] = json!({"id": uuid::Uuid::new_v4()});
    let (status, err) = s.post(&format!("{g1}/tasks"), &token, no_user).await;
    assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("assignee.id")));
    let (_, listed) = s.get(&format!("{g1}/tasks"), &token).await;
    assert_eq!(listed.as_array().unwrap().len(), 2, "the template's task and the added one");
    // A goal's task keeps the goal's patient.
    let (status, err) = s
        .patch(&s.sandbox(&format!("/tasks/{}", t["id"].as_str().unwrap())), &token, json!({"patient": {"id": other}}))
        .await;
    assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("patient")));

    // A removed goal stays removed.
    let (status, removed) = s.patch(&g1, &token, json!({"status": "REMOVED"})).await;
    assert_eq!((status, removed["status"].as_str()), (StatusCode::OK, Some("REMOVED")));
    for (method, path, body) in
        [(Method::PATCH, g1.clone(), json!({"status": "ACTIVE"})), (Method::POST, format!("{g1}/tasks"), body.clone())]
    {
        let (status, err) = s.call(method, &path, Some(&token), Some(body)).await;
        assert_eq!((status, error_code(&err).as_str()), (StatusCode::CONFLICT, "GOAL_REMOVED"), "{path}");
    }
    assert_eq!(s.get(&format!("{g1}/tasks"), &token).await.1.as_array().unwrap().len(), 2);

    // Unknown goals, and goals read through another patient.
    let missing = format!("{goals}/{}", uuid::Uuid::new_v4());
    for path in [missing.clone(), format!("{missing}/comments"), format!("{missing}/tasks")] {
        let (status, err) = s.get(&path, &token).await;
        assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "GOAL_NOT_FOUND"), "{path}");
    }
    assert_eq!(s.post(&format!("{missing}/comments"), &token, json!({"text": "x"})).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.patch(&missing, &token, json!({"name": "x"})).await.0, StatusCode::NOT_FOUND);
    let through_other = format!("{}/goals/{}", plan(&s, &other), ids[0]);
    assert_eq!(s.get(&through_other, &token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(s.get(&format!("{}/goals", plan(&s, &other)), &token).await.1["metaInfo"]["totalElements"], 0);
}

#[tokio::test]
async fn the_policy_guards_care_plans_and_writes_are_audited() {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let pid = patient(&s, &token, json!({"firstName": "Aud", "lastName": "It"})).await;
    let url = plan(&s, &pid);
    s.post(&format!("{url}/overview"), &token, json!({"overview": "one"})).await;
    s.call(Method::PUT, &format!("{url}/overview"), Some(&token), Some(json!({"overview": "two"}))).await;
    let gid = s.post(&format!("{url}/goals"), &token, json!({"goalTemplateName": "eat-fruit"})).await.1["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.patch(&format!("{url}/goals/{gid}"), &token, json!({"priority": "HIGH"})).await;
    s.post(&format!("{url}/goals/{gid}/comments"), &token, json!({"text": "hi"})).await;

    let (_, audit) = s.get(&format!("/{}/admin/audit-data?patientId={pid}&size=100", s.tenant), &token).await;
    let mut events: Vec<(String, String)> = audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["eventEntity"] != "PATIENT")
        .map(|r| (r["eventEntity"].as_str().unwrap().to_string(), r["eventSubtype"].as_str().unwrap().to_string()))
        .collect();
    events.sort();
    let expected: Vec<(String, String)> = [
        ("CARE_PLAN", "CARE_PLAN_CREATED"),
        ("CARE_PLAN", "CARE_PLAN_UPDATED"),
        ("GOAL", "GOAL_CREATED"),
        ("GOAL", "GOAL_UPDATED"),
        ("GOAL_COMMENT", "GOAL_COMMENT_CREATED"),
        ("TASK", "TASK_CREATED"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(events, expected, "{audit}");
    let plan_row = audit["data"].as_array().unwrap().iter().find(|r| r["eventSubtype"] == "CARE_PLAN_UPDATED").unwrap();
    assert_eq!(plan_row["record"]["patientOverview"]["overview"], "two");
    assert_eq!(plan_row["patientFullName"], "Aud It");

    let (name, secret) =
        s.client_with_policy(&json!({"permissions": {"patients": ["read"], "carePlans": ["read"]}}), None);
    let reader = s.token_for(&name, &secret).await;
    assert_eq!(s.get(&url, &reader).await.0, StatusCode::OK);
    assert_eq!(s.get(&format!("{url}/goals/{gid}"), &reader).await.0, StatusCode::OK);
    for (method, path, body) in [
        (Method::POST, format!("{url}/overview"), json!({"overview": "x"})),
        (Method::PUT, format!("{url}/overview"), json!({"overview": "x"})),
        (Method::POST, format!("{url}/goals"), json!({"goalTemplateName": "eat-fruit"})),
        (Method::PATCH, format!("{url}/goals/{gid}"), json!({"name": "x"})),
        (Method::POST, format!("{url}/goals/{gid}/comments"), json!({"text": "x"})),
        (Method::POST, format!("{url}/goals/{gid}/tasks"), json!({"name": "x"})),
    ] {
        let (status, err) = s.call(method.clone(), &path, Some(&reader), Some(body)).await;
        assert_eq!(
            (status, error_code(&err).as_str()),
            (StatusCode::FORBIDDEN, "ACCESS_FOR_API_CLIENT_RESTRICTED"),
            "{method} {path}"
        );
    }
    let (name, secret) = s.client_with_policy(&json!({"permissions": {"patients": ["read"]}}), None);
    let none = s.token_for(&name, &secret).await;
    for path in
        [url.clone(), format!("{url}/goals"), format!("{url}/goals/{gid}/comments"), format!("{url}/goals/{gid}/tasks")]
    {
        assert_eq!(s.get(&path, &none).await.0, StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(s.get(&url, &token).await.1["patientOverview"]["overview"], "two", "nothing changed");

    // Deleting the patient takes its care plan along (the delete succeeds and the plan is
    // gone with the patient).
    assert_eq!(s.delete(&s.sandbox(&format!("/patients/{pid}")), &token).await.0, StatusCode::OK);
    assert_eq!(s.get(&url, &token).await.0, StatusCode::NOT_FOUND);
}
