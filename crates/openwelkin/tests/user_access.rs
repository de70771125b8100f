//! Users' access over HTTP: application access, roles and security policies, regions and
//! territories (GET and create-or-replace PUT), checked against the tenant's instances and
//! each instance's designer, reflected in the user, in territorial teams and in the audit;
//! patient territories checked against the designer's regions.

mod common;

use common::{error_code, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn setup() -> (Server, String, String) {
    let s = Server::with_designer().await;
    let token = s.token().await;
    let (status, user) = s
        .post(
            &format!("/{}/admin/users", s.tenant),
            &token,
            json!({"username": "jane", "email": "jane@x.org", "firstName": "Jane", "lastName": "Dou"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{user}");
    (s, token, user["id"].as_str().unwrap().to_string())
}

fn admin(s: &Server, what: &str, id: &str) -> String {
    format!("/{}/admin/{what}/{id}", s.tenant)
}

async fn put(s: &Server, path: &str, token: &str, body: Value) -> (StatusCode, Value) {
    s.call(Method::PUT, path, Some(token), Some(body)).await
}

async fn user(s: &Server, token: &str, id: &str) -> Value {
    let (status, u) = s.get(&format!("/{}/admin/users/{id}?type=ID", s.tenant), token).await;
    assert_eq!(status, StatusCode::OK, "{u}");
    u
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

fn field(err: &Value) -> String {
    err[0]["details"]["field"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn application_access_is_replaced_and_shown_on_the_user() {
    let (s, token, id) = setup().await;
    let path = admin(&s, "application-accesses", &id);
    let (status, before) = s.get(&path, &token).await;
    assert_eq!(status, StatusCode::OK, "{before}");
    assert_eq!(
        keys(&before),
        [
            "adminAccessEnabled",
            "auditSecurityAccessEnabled",
            "createdAt",
            "id",
            "instanceAccesses",
            "updatedAt",
            "userId"
        ]
    );
    assert_eq!((before["userId"].as_str(), before["instanceAccesses"].clone()), (Some(id.as_str()), json!([])));

    let body = json!({"adminAccessEnabled": true, "auditSecurityAccessEnabled": false, "instanceAccesses": [
        {"instanceName": "sandbox", "workshopAccessEnabled": true, "auditDataAccessEnabled": true},
        {"instanceName": "live", "workshopAccessEnabled": false, "auditDataAccessEnabled": false,
         "userEmailWithInstanceDomain": "jane@clinic.example.com"}]});
    let (status, access) = put(&s, &path, &token, body).await;
    assert_eq!(status, StatusCode::OK, "{access}");
    assert_eq!(access["id"], before["id"], "the access keeps its id");
    assert_eq!(access["adminAccessEnabled"], true);
    let sandbox = &access["instanceAccesses"][0];
    assert_eq!(
        keys(sandbox),
        [
            "auditDataAccessEnabled",
            "enabledTakenPersonally",
            "instanceDescription",
            "instanceId",
            "instanceName",
            "userEmailWithInstanceDomain",
            "workshopAccessEnabled"
        ]
    );
    assert_eq!(
        (sandbox["instanceName"].as_str(), sandbox["auditDataAccessEnabled"].as_bool()),
        (Some("sandbox"), Some(true))
    );
    assert!(sandbox["instanceId"].as_str().is_some_and(|i| i.len() == 36));
    assert_eq!(access["instanceAccesses"][1]["userEmailWithInstanceDomain"], "jane@clinic.example.com");
    assert_eq!(s.get(&path, &token).await.1, access);
    let u = user(&s, &token, &id).await;
    assert_eq!(u["applicationAccess"], access, "GET /admin/users shows the change");
    assert_eq!(u["updatedByName"], json!(format!("API_CLIENT:{}", s.client)));

    // The instance id may be sent back, but must be the instance's.
    let mut echoed = access.clone();
    echoed["adminAccessEnabled"] = json!(false);
    let (status, again) = put(&s, &path, &token, echoed).await;
    assert_eq!((status, again["adminAccessEnabled"].clone()), (StatusCode::OK, json!(false)), "{again}");

    for (bad, expected) in [
        (
            json!({"adminAccessEnabled": true, "auditSecurityAccessEnabled": true, "instanceAccesses": [
                {"instanceName": "mars", "workshopAccessEnabled": true, "auditDataAccessEnabled": true}]}),
            "instanceAccesses[0].instanceName",
        ),
        (
            json!({"adminAccessEnabled": true, "auditSecurityAccessEnabled": true, "instanceAccesses": [
                {"instanceName": "live", "instanceId": "0b9a4a7c-6bd0-4d0b-9b0a-1ad0f3f4a001",
                 "workshopAccessEnabled": true, "auditDataAccessEnabled": true}]}),
            "instanceAccesses[0].instanceId",
        ),
        (
            json!({"adminAccessEnabled": true, "auditSecurityAccessEnabled": true, "instanceAccesses": [
                {"instanceName": "live", "workshopAccessEnabled": true}]}),
            "instanceAccesses[0].auditDataAccessEnabled",
        ),
        (json!({"adminAccessEnabled": true, "instanceAccesses": []}), "auditSecurityAccessEnabled"),
        (
            json!({"adminAccessEnabled": "yes", "auditSecurityAccessEnabled": true, "instanceAccesses": []}),
            "adminAccessEnabled",
        ),
        (
            json!({"userId": "0b9a4a7c-6bd0-4d0b-9b0a-1ad0f3f4a001", "adminAccessEnabled": true,
                   "auditSecurityAccessEnabled": true, "instanceAccesses": []}),
            "userId",
        ),
        (
            json!({"adminAccessEnabled": true, "auditSecurityAccessEnabled": true, "instanceAccesses": [], "colour": 1}),
            "colour",
        ),
    ] {
        let (status, err) = put(&s, &path, &token, bad).await;
        assert_eq!(
            (status, error_code(&err).as_str(), field(&err).as_str()),
            (StatusCode::BAD_REQUEST, "VALIDATION_ERROR", expected)
        );
    }
    assert_eq!(s.get(&path, &token).await.1, again, "refused bodies change nothing");

    let missing = admin(&s, "application-accesses", "0b9a4a7c-6bd0-4d0b-9b0a-1ad0f3f4a001");
    let (status, err) = s.get(&missing, &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "USER_NOT_FOUND"));
    let (status, err) = put(
        &s,
        &missing,
        &token,
        json!({"adminAccessEnabled": true, "auditSecurityAccessEnabled": true, "instanceAccesses": []}),
    )
    .await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "USER_NOT_FOUND"));
}

#[tokio::test]
async fn permissions_name_designer_roles_and_policies_per_instance() {
    let (s, token, id) = setup().await;
    let path = admin(&s, "user-permissions", &id);
    let (status, empty) = s.get(&path, &token).await;
    assert_eq!(status, StatusCode::OK, "{empty}");
    assert_eq!(keys(&empty), ["createdAt", "id", "permissions", "updatedAt", "userId"]);
    assert_eq!(empty["permissions"], json!([]));

    let (status, perms) = put(
        &s,
        &path,
        &token,
        json!({"permissions": [
            {"permissionName": "caregiver", "instanceName": "sandbox", "type": "SECURITY_ROLE"},
            {"permissionName": "manager", "instanceName": "live", "type": "SECURITY_ROLE", "primaryRole": true},
            {"permissionName": "manager", "instanceName": "sandbox", "type": "SECURITY_ROLE", "primaryRole": false},
            {"permissionName": "cdt_management", "instanceName": "sandbox", "type": "SECURITY_POLICY",
             "effectiveDate": "2030-12-01T00:00:00.000Z"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{perms}");
    assert_eq!(perms["id"], empty["id"], "the set keeps its id");
    assert_eq!(
        perms["permissions"],
        json!([
            {"permissionName": "caregiver", "instanceName": "sandbox", "type": "SECURITY_ROLE", "primaryRole": true},
            {"permissionName": "manager", "instanceName": "sandbox", "type": "SECURITY_ROLE", "primaryRole": false},
            {"permissionName": "cdt_management", "instanceName": "sandbox", "type": "SECURITY_POLICY",
             "effectiveDate": "2030-12-01T00:00:00.000Z"},
            {"permissionName": "manager", "instanceName": "live", "type": "SECURITY_ROLE", "primaryRole": true},
        ]),
        "grouped by instance, roles first; the first role of an instance is primary when none is flagged"
    );
    assert_eq!(s.get(&path, &token).await.1, perms);
    let u = user(&s, &token, &id).await;
    assert_eq!(u["roles"].as_array().unwrap().len(), 3);
    assert_eq!(
        keys(&u["roles"][0]),
        ["createdAt", "instanceName", "permissionName", "primaryRole", "type", "updatedAt"]
    );
    assert_eq!(u["policies"][0]["permissionName"], "cdt_management");
    assert_eq!(u["policies"][0]["type"], "SECURITY_POLICY");

    // A care team shows the roles.
    let p = s.create_patient(&token, json!({"firstName": "A", "lastName": "B", "careTeam": [{"id": id}]})).await;
    assert_eq!(p["careTeam"][0]["roles"][0], json!({"name": "caregiver", "primaryRole": true}));

    // A full replacement drops what is not listed.
    let (_, replaced) = put(
        &s,
        &path,
        &token,
        json!({"permissions": [{"permissionName": "assessments_management", "instanceName": "live", "type": "SECURITY_POLICY"}]}),
    )
    .await;
    assert_eq!(
        replaced["permissions"],
        json!([{"permissionName": "assessments_management", "instanceName": "live", "type": "SECURITY_POLICY", "effectiveDate": null}])
    );
    assert_eq!(replaced["createdAt"], perms["createdAt"], "the set keeps its creation time");

    // An instance whose designer has no roles.
    s.cli(&["instances", "create", &s.tenant, "bare"]);
    for (bad, expected) in [
        (
            json!({"permissionName": "surgeon", "instanceName": "sandbox", "type": "SECURITY_ROLE"}),
            "permissions[0].permissionName",
        ),
        (
            json!({"permissionName": "cdt_management", "instanceName": "sandbox", "type": "SECURITY_ROLE"}),
            "permissions[0].permissionName",
        ),
        (
            json!({"permissionName": "caregiver", "instanceName": "bare", "type": "SECURITY_ROLE"}),
            "permissions[0].permissionName",
        ),
        (
            json!({"permissionName": "caregiver", "instanceName": "mars", "type": "SECURITY_ROLE"}),
            "permissions[0].instanceName",
        ),
        (json!({"permissionName": "caregiver", "instanceName": "live", "type": "ROLE"}), "permissions[0].type"),
        (json!({"permissionName": "caregiver", "instanceName": "live"}), "permissions[0].type"),
        (
            json!({"permissionName": "caregiver", "instanceName": "live", "type": "SECURITY_ROLE", "effectiveDate": "2030-01-01"}),
            "permissions[0].effectiveDate",
        ),
        (
            json!({"permissionName": "cdt_management", "instanceName": "live", "type": "SECURITY_POLICY", "primaryRole": true}),
            "permissions[0].primaryRole",
        ),
        (
            json!({"permissionName": "cdt_management", "instanceName": "live", "type": "SECURITY_POLICY", "effectiveDate": "soon"}),
            "permissions[0].effectiveDate",
        ),
    ] {
        let (status, err) = put(&s, &path, &token, json!({"permissions": [bad]})).await;
        assert_eq!((status, field(&err).as_str()), (StatusCode::BAD_REQUEST, expected), "{err}");
    }
    let two_primaries = json!({"permissions": [
        {"permissionName": "caregiver", "instanceName": "live", "type": "SECURITY_ROLE", "primaryRole": true},
        {"permissionName": "manager", "instanceName": "live", "type": "SECURITY_ROLE", "primaryRole": true}]});
    let (status, err) = put(&s, &path, &token, two_primaries).await;
    assert_eq!((status, field(&err).as_str()), (StatusCode::BAD_REQUEST, "permissions[1].primaryRole"));
    let twice = json!({"permissions": [
        {"permissionName": "caregiver", "instanceName": "live", "type": "SECURITY_ROLE"},
        {"permissionName": "caregiver", "instanceName": "live", "type": "SECURITY_ROLE"}]});
    assert_eq!(field(&put(&s, &path, &token, twice).await.1), "permissions[1].permissionName");
    assert_eq!(field(&put(&s, &path, &token, json!({})).await.1), "permissions");
    assert_eq!(s.get(&path, &token).await.1, replaced, "refused bodies change nothing");
}

#[tokio::test]
async fn territories_follow_the_designer_regions_and_make_territorial_teams() {
    let (s, token, id) = setup().await;
    let path = admin(&s, "user-territories", &id);
    let (status, empty) = s.get(&path, &token).await;
    assert_eq!(status, StatusCode::OK, "{empty}");
    assert_eq!(keys(&empty), ["createdAt", "createdBy", "id", "territories", "updatedAt", "updatedBy", "userId"]);

    let (status, t) = put(
        &s,
        &path,
        &token,
        json!({"userId": id, "territories": [
            {"name": "california", "territories": ["los-angeles"], "instanceName": "sandbox"},
            {"name": "washington", "territories": ["seattle", "tacoma"], "instanceName": "live"}]}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(
        t["territories"],
        json!([{"instanceName": "sandbox", "name": "california", "territories": ["los-angeles"]},
               {"instanceName": "live", "name": "washington", "territories": ["seattle", "tacoma"]}])
    );
    assert_eq!(t["userId"], json!(id));
    assert!(t["createdBy"].as_str().is_some_and(|c| c.len() == 36), "{t}");
    assert_eq!(s.get(&path, &token).await.1, t);
    let u = user(&s, &token, &id).await;
    assert_eq!(
        keys(&u["territories"][0]),
        ["createdAt", "createdBy", "instanceName", "name", "territories", "updatedAt", "updatedBy"]
    );
    assert_eq!(u["territories"][1]["instanceName"], "live");

    // Territorial teams: users covering the patient's region in this instance.
    let covered = s
        .create_patient(
            &token,
            json!({"firstName": "C", "lastName": "A", "patientTerritories": [{"name": "california", "territories": ["san-diego"]}]}),
        )
        .await;
    assert_eq!(covered["patientRegionTitle"], "California");
    let other = s
        .create_patient(
            &token,
            json!({"firstName": "W", "lastName": "A", "patientTerritories": [{"name": "washington", "territories": ["seattle"]}]}),
        )
        .await;
    let team = |p: &Value| {
        let p = p.clone();
        let s = &s;
        let token = token.clone();
        async move { s.get(&s.sandbox(&format!("/patients/{}?expand=true", p["id"].as_str().unwrap())), &token).await.1 }
    };
    let t1 = team(&covered).await;
    assert_eq!(t1["territorialTeam"].as_array().unwrap().len(), 1, "{t1}");
    assert_eq!(t1["territorialTeam"][0]["username"], "jane");
    assert_eq!(team(&other).await["territorialTeam"], json!([]), "washington is covered only in live");
    let (_, by_region) = s.get(&s.sandbox("/users?region=california"), &token).await;
    assert_eq!(by_region["metaInfo"]["totalElements"], 1, "{by_region}");
    let (_, by_region) = s.get(&s.sandbox("/users?region=washington"), &token).await;
    assert_eq!(by_region["metaInfo"]["totalElements"], 0);

    s.cli(&["instances", "create", &s.tenant, "bare"]);
    for (bad, expected) in [
        (
            json!({"name": "california", "territories": ["los-angeles", "boston"], "instanceName": "sandbox"}),
            "territories[0].territories[1]",
        ),
        (json!({"name": "atlantis", "territories": [], "instanceName": "sandbox"}), "territories[0].name"),
        (json!({"name": "california", "territories": ["los-angeles"], "instanceName": "bare"}), "territories[0].name"),
        (
            json!({"name": "california", "territories": ["los-angeles"], "instanceName": "mars"}),
            "territories[0].instanceName",
        ),
        (json!({"name": "california", "instanceName": "sandbox"}), "territories[0].territories"),
        (
            json!({"name": "california", "territories": ["los-angeles", "los-angeles"], "instanceName": "sandbox"}),
            "territories[0].territories[1]",
        ),
    ] {
        let (status, err) = put(&s, &path, &token, json!({"territories": [bad]})).await;
        assert_eq!(
            (status, error_code(&err).as_str(), field(&err).as_str()),
            (StatusCode::BAD_REQUEST, "VALIDATION_ERROR", expected)
        );
    }
    assert_eq!(s.get(&path, &token).await.1, t, "refused bodies change nothing");

    // Emptied: the user leaves the team.
    let (status, cleared) = put(&s, &path, &token, json!({"territories": []})).await;
    assert_eq!((status, cleared["territories"].clone()), (StatusCode::OK, json!([])));
    assert_eq!(team(&covered).await["territorialTeam"], json!([]));
}

#[tokio::test]
async fn patient_territories_must_exist_in_the_designer() {
    let (s, token, _) = setup().await;
    for (territories, expected) in [
        (json!([{"name": "atlantis", "territories": []}]), "patientTerritories[0].name"),
        (
            json!([{"name": "east", "territories": ["boston"]}, {"name": "california", "territories": ["los-angeles", "seattle"]}]),
            "patientTerritories[1].territories[1]",
        ),
    ] {
        let (status, err) = s
            .post(
                &s.sandbox("/patients"),
                &token,
                json!({"firstName": "Terry", "lastName": "Tory", "patientTerritories": territories}),
            )
            .await;
        assert_eq!(
            (status, error_code(&err).as_str(), field(&err).as_str()),
            (StatusCode::BAD_REQUEST, "VALIDATION_ERROR", expected)
        );
    }
    assert_eq!(s.count_patients(&token, "Terry").await, 0, "nothing was written");
    let p = s
        .create_patient(&token, json!({"firstName": "Terry", "lastName": "Tory", "patientTerritories": [{"name": "east", "territories": ["austin"]}]}))
        .await;
    assert_eq!((p["patientRegion"].as_str(), p["patientRegionTitle"].as_str()), (Some("east"), Some("East")));
    let url = s.sandbox(&format!("/patients/{}", p["id"].as_str().unwrap()));
    let (status, err) =
        s.patch(&url, &token, json!({"patientTerritories": [{"name": "east", "territories": ["tacoma"]}]})).await;
    assert_eq!((status, field(&err).as_str()), (StatusCode::BAD_REQUEST, "patientTerritories[0].territories[0]"));
    assert_eq!(s.get(&url, &token).await.1["patientTerritories"], json!([{"name": "east", "territories": ["austin"]}]));
    let (status, moved) =
        s.patch(&url, &token, json!({"patientTerritories": [{"name": "washington", "territories": ["tacoma"]}]})).await;
    assert_eq!((status, moved["patientRegionTitle"].clone()), (StatusCode::OK, json!("Washington")));
}

#[tokio::test]
async fn policies_and_audit() {
    let (s, token, id) = setup().await;
    let app = admin(&s, "application-accesses", &id);
    let perms = admin(&s, "user-permissions", &id);
    let terr = admin(&s, "user-territories", &id);
    let app_body = json!({"adminAccessEnabled": false, "auditSecurityAccessEnabled": false, "instanceAccesses": []});
    let perms_body = json!({"permissions": []});
    let terr_body = json!({"territories": [{"name": "east", "territories": ["boston"], "instanceName": "live"}]});

    let (name, secret) = s.client_with_policy(&json!({"permissions": {"users": ["read"]}}), None);
    let reader = s.token_for(&name, &secret).await;
    for path in [&app, &perms, &terr] {
        assert_eq!(s.get(path, &reader).await.0, StatusCode::OK);
    }
    for (path, body) in [(&app, &app_body), (&perms, &perms_body), (&terr, &terr_body)] {
        let (status, err) = put(&s, path, &reader, body.clone()).await;
        assert_eq!((status, error_code(&err).as_str()), (StatusCode::FORBIDDEN, "ACCESS_FOR_API_CLIENT_RESTRICTED"));
    }
    let (name, secret) = s.client_with_policy(&json!({"permissions": {"users": ["*"]}}), None);
    let no_flag = s.token_for(&name, &secret).await;
    assert_eq!(put(&s, &app, &no_flag, app_body.clone()).await.0, StatusCode::FORBIDDEN, "needs userProvisioning");
    let (name, secret) = s.client_with_policy(
        &json!({"permissions": {"users": ["read", "update"]}, "admin": {"userProvisioning": true}}),
        None,
    );
    let provisioner = s.token_for(&name, &secret).await;
    assert_eq!(put(&s, &app, &provisioner, app_body.clone()).await.0, StatusCode::OK);
    assert_eq!(put(&s, &perms, &provisioner, perms_body.clone()).await.0, StatusCode::OK);
    assert_eq!(put(&s, &terr, &provisioner, terr_body.clone()).await.0, StatusCode::FORBIDDEN, "needs userRegions");
    let (name, secret) = s.client_with_policy(&json!({"admin": {"userRegions": true}}), None);
    let regions = s.token_for(&name, &secret).await;
    assert_eq!(put(&s, &terr, &regions, terr_body.clone()).await.0, StatusCode::OK);
    assert_eq!(s.get(&terr, &regions).await.0, StatusCode::FORBIDDEN, "reading needs users read");

    for entity in ["USER_APP_ACCESS", "USER_PERMISSIONS", "USER_TERRITORIES"] {
        let (status, audit) = s.get(&format!("/{}/admin/audit-data?entity={entity}", s.tenant), &token).await;
        assert_eq!(status, StatusCode::OK, "{audit}");
        assert_eq!(audit["metaInfo"]["totalElements"], 1, "{entity}: {audit}");
        let row = &audit["data"][0];
        assert_eq!(row["eventSubtype"], "USER_ACCESS_UPDATED");
        assert_eq!(row["record"]["userId"], json!(id));
    }
    let (_, audit) = s.get(&format!("/{}/admin/audit-data?entity=USER_TERRITORIES", s.tenant), &token).await;
    assert_eq!(audit["data"][0]["record"]["territories"][0]["name"], "east");
}
