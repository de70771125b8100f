//! Patient programs over HTTP: enrolment, phase changes along `navigateTo` (both PATCH
//! paths), auto-finish, reads by name and by id, the list with stubs, delete, the
//! patient's `patientPrograms`, formation changes, isolation, policy and audit.

mod common;

use common::{error_code, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const PROGRAM_KEYS: [&str; 14] = [
    "assigned",
    "compatibleWithCurrentVersion",
    "createdAt",
    "createdByName",
    "currentPhase",
    "id",
    "pathHistory",
    "patientId",
    "programDescription",
    "programName",
    "programTitle",
    "status",
    "updatedAt",
    "updatedByName",
];
const PHASE_KEYS: [&str; 8] =
    ["createdBy", "createdByName", "currentVersion", "deleted", "description", "name", "timestamp", "title"];

/// A program with branches, a phase that finishes the program by itself, and a FINISH
/// phase that does not. Published to sandbox as formation version 2.
fn weight_loss() -> Value {
    json!({"name": "prog-weight-loss", "title": "Weight Loss", "description": "Coaching towards a healthy weight", "phases": [
        {"name": "start", "title": "Start", "navigateTo": [{"name": "intake"}, {"name": "finish"}]},
        {"name": "intake", "title": "Intake", "description": "First consultation",
         "navigateTo": [{"name": "coaching"}, {"name": "dropped-out"}]},
        {"name": "coaching", "title": "Coaching", "navigateTo": [{"name": "graduated"}, {"name": "dropped-out"}]},
        {"name": "graduated", "title": "Graduated", "autoFinishProgram": true},
        {"name": "dropped-out", "title": "Dropped Out", "type": "FINISH"},
        {"name": "finish", "title": "Finish"}]})
}

async fn setup() -> (Server, String, String) {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let (status, body) = s.post(&s.sandbox("/formations/draft/programs"), &token, weight_loss()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = s.call(Method::POST, &s.sandbox("/formations/draft/publish"), Some(&token), None).await;
    assert!(status.is_success(), "{body}");
    let p = s.create_patient(&token, json!({"firstName": "Pro", "lastName": "Gram"})).await;
    (s, token, p["id"].as_str().unwrap().to_string())
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap_or_else(|| panic!("not an object: {v}")).keys().cloned().collect();
    k.sort();
    k
}

fn phases(pp: &Value) -> Vec<String> {
    pp["pathHistory"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap().to_string()).collect()
}

fn field(err: &Value) -> String {
    err[0]["details"]["field"].as_str().unwrap_or_default().to_string()
}

struct Programs<'a> {
    s: &'a Server,
    token: String,
    base: String,
}

impl Programs<'_> {
    fn url(&self, rest: &str) -> String {
        format!("{}{rest}", self.base)
    }
    async fn patch(&self, rest: &str, body: Value) -> (StatusCode, Value) {
        self.s.patch(&self.url(rest), &self.token, body).await
    }
    async fn get(&self, rest: &str) -> (StatusCode, Value) {
        self.s.get(&self.url(rest), &self.token).await
    }
    async fn delete(&self, rest: &str) -> (StatusCode, Value) {
        self.s.delete(&self.url(rest), &self.token).await
    }
}

fn programs<'a>(s: &'a Server, token: &str, pid: &str) -> Programs<'a> {
    Programs { s, token: token.to_string(), base: s.sandbox(&format!("/patients/{pid}/programs")) }
}

#[tokio::test]
async fn enrol_move_along_arrows_and_finish() {
    let (s, token, pid) = setup().await;
    let pr = programs(&s, &token, &pid);

    let (status, err) = pr.get("/current/prog-weight-loss").await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "PATIENT_PROGRAM_NOT_FOUND"));
    assert_eq!(err[0]["componentType"], "PATIENT_PROGRAM");
    assert_eq!(err[0]["message"], "Patient related to program doesn't exist");
    assert_eq!(
        err[0]["details"],
        json!({"programName": "prog-weight-loss", "patientId": pid, "notStatus": "FINISHED"})
    );

    // Enrol, as the Python client does.
    let (status, pp) = pr.patch("/prog-weight-loss", json!({"assigned": true, "phaseName": "start"})).await;
    assert_eq!(status, StatusCode::OK, "{pp}");
    assert_eq!(keys(&pp), PROGRAM_KEYS);
    assert_eq!(keys(&pp["currentPhase"]), PHASE_KEYS);
    assert_eq!(
        (pp["programName"].as_str(), pp["programTitle"].as_str(), pp["programDescription"].as_str()),
        (Some("prog-weight-loss"), Some("Weight Loss"), Some("Coaching towards a healthy weight"))
    );
    assert_eq!((pp["assigned"].clone(), pp["status"].clone()), (json!(true), json!("IN_PROGRESS")));
    assert_eq!(
        (pp["patientId"].as_str(), pp["compatibleWithCurrentVersion"].as_bool()),
        (Some(pid.as_str()), Some(true))
    );
    assert_eq!(pp["createdByName"], json!(format!("API_CLIENT:{}", s.client)));
    let start = &pp["currentPhase"];
    assert_eq!(
        (start["name"].as_str(), start["title"].as_str(), start["currentVersion"].as_str(), start["deleted"].as_bool()),
        (Some("start"), Some("Start"), Some("2"), Some(false))
    );
    assert!(start["createdBy"].as_str().is_some_and(|c| c.len() == 36));
    assert_eq!(pp["pathHistory"], json!([start]));
    let id = pp["id"].as_str().unwrap().to_string();

    // Idempotent: the current phase again changes nothing.
    let (status, same) = pr.patch("/prog-weight-loss", json!({"assigned": true, "phaseName": "start"})).await;
    assert_eq!(
        (status, same["id"].as_str(), phases(&same)),
        (StatusCode::OK, Some(id.as_str()), vec!["start".to_string()])
    );

    // Phases not reachable from the current one are refused, and nothing changes.
    for bad in ["graduated", "coaching", "nowhere"] {
        let (status, err) = pr.patch("/prog-weight-loss", json!({"phaseName": bad})).await;
        assert_eq!(
            (status, error_code(&err).as_str(), field(&err).as_str()),
            (StatusCode::BAD_REQUEST, "VALIDATION_ERROR", "phaseName"),
            "{bad}"
        );
        assert_eq!(err[0]["componentType"], "PATIENT_PROGRAM");
    }
    let (_, err) = pr.patch("/prog-weight-loss", json!({"phaseName": "coaching"})).await;
    assert!(err[0]["message"].as_str().unwrap().contains("reachable: intake, finish"), "{err}");
    assert_eq!(pr.get("/current/prog-weight-loss").await.1, same);

    let (status, pp) = pr.patch("/prog-weight-loss", json!({"phaseName": "intake"})).await;
    assert_eq!((status, phases(&pp)), (StatusCode::OK, vec!["start".to_string(), "intake".to_string()]));
    assert_eq!(pp["currentPhase"]["description"], "First consultation");
    assert!(pp["updatedAt"].as_str().unwrap() >= pp["createdAt"].as_str().unwrap());
    // The other phase-change path.
    let (status, pp) = pr.patch("/prog-weight-loss/phases", json!({"phaseName": "coaching"})).await;
    assert_eq!((status, pp["currentPhase"]["name"].as_str()), (StatusCode::OK, Some("coaching")), "{pp}");
    let (status, err) = pr.patch("/prog-weight-loss/phases", json!({"phaseName": "intake"})).await;
    assert_eq!((status, field(&err).as_str()), (StatusCode::BAD_REQUEST, "phaseName"));
    let (status, err) = pr.patch("/prog-weight-loss/phases", json!({"assigned": true})).await;
    assert_eq!((status, field(&err).as_str()), (StatusCode::BAD_REQUEST, "assigned"));

    // Reads by name and by id, in both forms.
    assert_eq!(pr.get("/current/prog-weight-loss").await, (StatusCode::OK, pp.clone()));
    assert_eq!(pr.get(&format!("/history/{id}")).await, (StatusCode::OK, pp.clone()));
    assert_eq!(pr.get("/prog-weight-loss").await, (StatusCode::OK, pp.clone()));
    assert_eq!(pr.get(&format!("/{id}?assignedPrograms=True&sort=name")).await, (StatusCode::OK, pp.clone()));

    // autoFinishProgram finishes the enrolment.
    let (status, done) = pr.patch("/prog-weight-loss", json!({"phaseName": "graduated"})).await;
    assert_eq!((status, done["status"].as_str()), (StatusCode::OK, Some("FINISHED")), "{done}");
    assert_eq!(phases(&done), ["start", "intake", "coaching", "graduated"]);
    assert_eq!(pr.get("/current/prog-weight-loss").await.0, StatusCode::NOT_FOUND, "no unfinished enrolment");
    assert_eq!(pr.get(&format!("/history/{id}")).await.1, done);
    assert_eq!(pr.patch("/prog-weight-loss/phases", json!({"phaseName": "finish"})).await.0, StatusCode::NOT_FOUND);

    // A new enrolment after a finished one; with a phase reachable from START.
    let (status, second) = pr.patch("/prog-weight-loss", json!({"phaseName": "finish"})).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_ne!(second["id"], json!(id));
    assert_eq!(phases(&second), ["start", "finish"]);
    assert_eq!(second["status"], "IN_PROGRESS", "a FINISH phase alone does not finish (as recorded)");
    let (status, finished) = pr.patch("/prog-weight-loss", json!({"status": "FINISHED"})).await;
    assert_eq!((status, finished["status"].as_str(), phases(&finished).len()), (StatusCode::OK, Some("FINISHED"), 2));

    let (_, patient) = s.get(&s.sandbox(&format!("/patients/{pid}")), &token).await;
    let enrolments = patient["patientPrograms"].as_array().unwrap();
    assert_eq!(enrolments.len(), 2, "the patient lists every enrolment");
    assert_eq!((enrolments[0].clone(), enrolments[1].clone()), (done, finished));
}

#[tokio::test]
async fn list_has_a_row_per_program_with_stubs() {
    let (s, token, pid) = setup().await;
    let pr = programs(&s, &token, &pid);
    let (status, page) = pr.get("?page=0").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert_eq!(keys(&page), ["data", "metaInfo"]);
    assert_eq!(
        keys(&page["metaInfo"]),
        ["firstPage", "lastPage", "numberOfElements", "page", "pageSize", "totalElements", "totalPages"]
    );
    let rows = page["data"].as_array().unwrap();
    let designer_programs = s.get(&s.sandbox("/formations/current/programs"), &token).await.1;
    assert_eq!(rows.len(), designer_programs.as_array().unwrap().len(), "every designer program is listed");
    let stub = rows.iter().find(|r| r["programName"] == "prog-diabetes").unwrap();
    assert_eq!(keys(stub), PROGRAM_KEYS);
    assert_eq!(
        *stub,
        json!({"id": null, "createdByName": null, "createdAt": null, "updatedByName": null, "updatedAt": null,
               "programName": "prog-diabetes", "programTitle": "Diabetes care", "programDescription": "Education then maintenance",
               "assigned": false, "patientId": null, "currentPhase": null, "status": null,
               "compatibleWithCurrentVersion": false, "pathHistory": []})
    );
    assert_eq!(page["metaInfo"]["lastPage"], true);

    pr.patch("/prog-weight-loss", json!({"assigned": true})).await;
    pr.patch("/prog-diabetes", json!({"assigned": true})).await;
    let (_, assigned) = pr.get("?assignedPrograms=true&sort=programName,desc").await;
    let names: Vec<&str> =
        assigned["data"].as_array().unwrap().iter().map(|r| r["programName"].as_str().unwrap()).collect();
    assert_eq!(names, ["prog-weight-loss", "prog-diabetes"]);
    assert_eq!(assigned["metaInfo"]["totalElements"], 2);
    let (_, first) = pr.get("?assignedPrograms=True&sort=programName,asc&size=1").await;
    assert_eq!(first["data"][0]["programName"], "prog-diabetes");
    assert_eq!(
        (first["metaInfo"]["lastPage"].clone(), first["metaInfo"]["totalPages"].clone()),
        (json!(false), json!(2))
    );
    let (_, second) = pr.get("?assignedPrograms=true&sort=programName,asc&size=1&page=1").await;
    assert_eq!(
        (second["data"][0]["programName"].clone(), second["metaInfo"]["lastPage"].clone()),
        (json!("prog-weight-loss"), json!(true))
    );
    let (status, err) = pr.get("?sort=shoeSize,asc").await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "INVALID_PARAMETER"));

    // `assigned: false` removes the enrolment; the list shows the stub again.
    let (status, stub) = pr.patch("/prog-diabetes", json!({"assigned": false})).await;
    assert_eq!((status, stub["id"].clone(), stub["assigned"].clone()), (StatusCode::OK, Value::Null, json!(false)));
    let (_, assigned) = pr.get("?assignedPrograms=true").await;
    assert_eq!(assigned["metaInfo"]["totalElements"], 1);
    let (status, err) = pr.patch("/prog-diabetes", json!({"assigned": false})).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "PATIENT_PROGRAM_NOT_FOUND"));
}

#[tokio::test]
async fn delete_by_id_or_name() {
    let (s, token, pid) = setup().await;
    let pr = programs(&s, &token, &pid);
    let (_, pp) = pr.patch("/prog-weight-loss", json!({"assigned": true, "phaseName": "start"})).await;
    let id = pp["id"].as_str().unwrap().to_string();
    let (status, body) = pr.delete(&format!("/{id}")).await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null), "200 with an empty body");
    let (status, err) = pr.get(&format!("/history/{id}")).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "PATIENT_PROGRAM_NOT_FOUND"));
    assert_eq!(err[0]["details"], json!({"id": id, "patientId": pid}), "details as recorded");
    assert_eq!(pr.delete(&format!("/{id}")).await.0, StatusCode::NOT_FOUND);
    assert_eq!(pr.get("/current/prog-weight-loss").await.0, StatusCode::NOT_FOUND);

    // V8 deletes by program name.
    pr.patch("/prog-diabetes", json!({"assigned": true})).await;
    assert_eq!(pr.delete("/prog-diabetes").await.0, StatusCode::OK);
    assert_eq!(pr.get("/current/prog-diabetes").await.0, StatusCode::NOT_FOUND);
    assert_eq!(pr.delete("/prog-diabetes").await.0, StatusCode::NOT_FOUND);

    // Unknown program, unknown patient.
    let (status, err) = pr.patch("/prog-nothing", json!({"assigned": true})).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "PROGRAM_NOT_FOUND"));
    let other = programs(&s, &token, "0b9a4a7c-6bd0-4d0b-9b0a-1ad0f3f4a001");
    let (status, err) = other.get("").await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "PATIENT_NOT_FOUND"));
    let (status, err) = pr.patch("/prog-diabetes", json!({"assigned": true, "status": "FINISHED"})).await;
    assert_eq!((status, field(&err).as_str()), (StatusCode::BAD_REQUEST, "status"));
    let (status, err) = pr.patch("/prog-diabetes", json!({"assigned": "yes"})).await;
    assert_eq!((status, field(&err).as_str()), (StatusCode::BAD_REQUEST, "assigned"));
    let (status, err) = pr.patch("/prog-diabetes", json!({"assigned": true, "phaseName": "finish"})).await;
    assert_eq!(
        (status, field(&err).as_str()),
        (StatusCode::BAD_REQUEST, "phaseName"),
        "finish is not reachable from start"
    );
    assert_eq!(pr.get("/current/prog-diabetes").await.0, StatusCode::NOT_FOUND, "a refused enrolment writes nothing");

    // Deleting the patient deletes its enrolments.
    pr.patch("/prog-diabetes", json!({"assigned": true})).await;
    assert_eq!(s.delete(&s.sandbox(&format!("/patients/{pid}")), &token).await.0, StatusCode::OK);
    let db = openwelkin::store::Db::connect(&s.db_url).await.unwrap();
    let tenant = db.tenant_by_name(&s.tenant).await.unwrap().unwrap();
    let instance = db.instance_by_name(&tenant.id, "sandbox").await.unwrap().unwrap();
    assert!(db.patient_programs(&instance.id, &pid).await.unwrap().is_empty());
}

#[tokio::test]
async fn formation_changes_mark_removed_phases() {
    let (s, token, pid) = setup().await;
    let pr = programs(&s, &token, &pid);
    pr.patch("/prog-weight-loss", json!({"assigned": true})).await;
    pr.patch("/prog-weight-loss", json!({"phaseName": "intake"})).await;
    let program = json!({"name": "prog-weight-loss", "title": "Weight Loss v2", "description": "Shorter", "phases": [
        {"name": "start", "navigateTo": [{"name": "coaching"}, {"name": "finish"}]},
        {"name": "coaching", "navigateTo": [{"name": "finish"}]},
        {"name": "finish"}]});
    let (status, body) = s
        .call(Method::PUT, &s.sandbox("/formations/draft/programs/prog-weight-loss"), Some(&token), Some(program))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = s.call(Method::POST, &s.sandbox("/formations/draft/publish"), Some(&token), None).await;
    assert!(status.is_success(), "{body}");

    let (_, pp) = pr.get("/current/prog-weight-loss").await;
    assert_eq!(pp["programTitle"], "Weight Loss v2");
    assert_eq!(
        (pp["currentPhase"]["deleted"].clone(), pp["compatibleWithCurrentVersion"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(
        (pp["pathHistory"][0]["deleted"].clone(), pp["pathHistory"][1]["deleted"].clone()),
        (json!(false), json!(true))
    );
    assert_eq!(pp["currentPhase"]["currentVersion"], "2");
    // A removed phase does not strand the enrolment.
    let (status, moved) = pr.patch("/prog-weight-loss", json!({"phaseName": "coaching"})).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    assert_eq!(
        (moved["currentPhase"]["currentVersion"].clone(), moved["compatibleWithCurrentVersion"].clone()),
        (json!("3"), json!(true))
    );
}

#[tokio::test]
async fn isolation_policy_and_audit() {
    let (s, token, pid) = setup().await;
    let pr = programs(&s, &token, &pid);
    let (_, pp) = pr.patch("/prog-weight-loss", json!({"assigned": true})).await;
    let id = pp["id"].as_str().unwrap();

    // The patient and its enrolments live in sandbox only.
    let live = format!("/{}/live/patients/{pid}/programs", s.tenant);
    let (status, err) = s.get(&format!("{live}/history/{id}"), &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "PATIENT_NOT_FOUND"));
    let live_patient = s
        .call(
            Method::POST,
            &format!("/{}/live/patients", s.tenant),
            Some(&token),
            Some(json!({"firstName": "L", "lastName": "P"})),
        )
        .await
        .1;
    let live_pid = live_patient["id"].as_str().unwrap();
    let (status, err) = s.get(&format!("/{}/live/patients/{live_pid}/programs/history/{id}", s.tenant), &token).await;
    assert_eq!((status, err[0]["details"]["patientId"].as_str()), (StatusCode::NOT_FOUND, Some(live_pid)));
    let (_, page) =
        s.get(&format!("/{}/live/patients/{live_pid}/programs?assignedPrograms=true", s.tenant), &token).await;
    assert_eq!(page["data"], json!([]));

    let (name, secret) = s.client_with_policy(&json!({"permissions": {"programs": ["read"]}}), None);
    let reader = s.token_for(&name, &secret).await;
    let rp = programs(&s, &reader, &pid);
    assert_eq!(rp.get(&format!("/history/{id}")).await.0, StatusCode::OK);
    let (status, err) = rp.patch("/prog-weight-loss", json!({"phaseName": "intake"})).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::FORBIDDEN, "ACCESS_FOR_API_CLIENT_RESTRICTED"));
    assert_eq!(rp.delete(&format!("/{id}")).await.0, StatusCode::FORBIDDEN);
    let (name, secret) = s.client_with_policy(&json!({"permissions": {"patients": ["read"]}}), None);
    let no_programs = s.token_for(&name, &secret).await;
    assert_eq!(programs(&s, &no_programs, &pid).get("").await.0, StatusCode::FORBIDDEN);

    pr.patch("/prog-weight-loss", json!({"phaseName": "intake"})).await;
    pr.delete(&format!("/{id}")).await;
    let (_, audit) =
        s.get(&format!("/{}/admin/audit-data?entity=PATIENT_PROGRAM&patientId={pid}", s.tenant), &token).await;
    let subtypes: Vec<&str> =
        audit["data"].as_array().unwrap().iter().map(|r| r["eventSubtype"].as_str().unwrap()).collect();
    let mut sorted = subtypes.clone();
    sorted.sort();
    assert_eq!(sorted, ["PATIENT_PROGRAM_CREATED", "PATIENT_PROGRAM_DELETED", "PATIENT_PROGRAM_UPDATED"], "{audit}");
    for row in audit["data"].as_array().unwrap() {
        assert_eq!(row["record"]["id"], json!(id));
        assert_eq!(row["patientFullName"], "Pro Gram");
    }
}
