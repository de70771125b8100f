//! Users over HTTP: the recorded shapes, lookups by username and id, filters, writes.

mod common;

use common::{error_code, Server};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

#[tokio::test]
async fn create_read_update_delete_as_recorded() {
    let s = Server::start().await;
    let token = s.token().await;
    let users = format!("/{}/admin/users", s.tenant);
    let (status, u) = s.post(&users, &token, json!({"username": "bar", "email": "bar@foo.com"})).await;
    assert_eq!(status, StatusCode::CREATED, "{u}");
    for key in [
        "territories",
        "roles",
        "policies",
        "seats",
        "seatAssignAllowed",
        "applicationAccess",
        "id",
        "username",
        "email",
        "enabled",
        "mfaEnabled",
        "statusType",
        "createdAt",
        "updatedAt",
        "ssoAccess",
        "passwordAccess",
        "terminologyName",
        "userState",
        "customUserAttributes",
        "allowedToReceiveCalls",
        "userAttributes",
        "_root_user",
    ] {
        assert!(u.get(key).is_some(), "missing {key}");
    }
    assert_eq!(
        (u["userState"].clone(), u["enabled"].clone(), u["terminologyName"].clone()),
        (json!("PROVISIONED"), json!(false), json!("english"))
    );
    assert_eq!(u["applicationAccess"]["userId"], u["id"]);
    assert_eq!(u["applicationAccess"]["instanceAccesses"], json!([]));
    let id = u["id"].as_str().unwrap();

    let (status, by_id) = s.get(&format!("{users}/{id}?type=ID"), &token).await;
    assert_eq!((status, &by_id), (StatusCode::OK, &u));
    assert_eq!(s.get(&format!("{users}/BAR"), &token).await.1["id"], u["id"], "usernames match without case");

    let (status, updated) =
        s.patch(&format!("{users}/bar"), &token, json!({"firstName": "Baz", "lastName": "Foo"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (updated["firstName"].clone(), updated["lastName"].clone(), updated["email"].clone()),
        (json!("Baz"), json!("Foo"), json!("bar@foo.com"))
    );
    assert_eq!(
        s.patch(&format!("{users}/{id}?type=ID"), &token, json!({"userState": "ACTIVE"})).await.1["userState"],
        "ACTIVE"
    );
    let (status, err) = s.patch(&format!("{users}/bar"), &token, json!({"username": "other"})).await;
    assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!("username")));

    let (status, replaced) = s
        .call(
            Method::PUT,
            &format!("{users}/bar"),
            Some(&token),
            Some(json!({"username": "bar", "email": "new@foo.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{replaced}");
    assert_eq!(replaced["email"], "new@foo.com");
    assert!(replaced.get("firstName").is_none(), "PUT replaces every writable field");
    assert_eq!(replaced["createdAt"], u["createdAt"]);

    let (status, body) = s.delete(&format!("{users}/{id}?type=ID"), &token).await;
    assert_eq!((status, body), (StatusCode::OK, Value::Null));
    let (status, err) = s.get(&format!("{users}/{id}?type=ID"), &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "USER_NOT_FOUND"));
    assert_eq!(err[0]["componentType"], "USER");
}

#[tokio::test]
async fn me_is_not_a_user() {
    let s = Server::start().await;
    let token = s.token().await;
    let (status, err) = s.get(&format!("/{}/admin/users/me", s.tenant), &token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err[0]["errorCode"], "USER_NOT_FOUND");
    assert_eq!(err[0]["message"], "User doesn't exist");
}

#[tokio::test]
async fn usernames_are_unique_and_bodies_are_checked() {
    let s = Server::start().await;
    let token = s.token().await;
    let users = format!("/{}/admin/users", s.tenant);
    assert_eq!(s.post(&users, &token, json!({"username": "dup", "email": "a@x.org"})).await.0, StatusCode::CREATED);
    let (status, err) = s.post(&users, &token, json!({"username": "DUP", "email": "b@x.org"})).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::CONFLICT, "USER_ALREADY_EXISTS"));
    for (body, field) in [
        (json!({"username": "x"}), "email"),
        (json!({"username": "x", "email": "nope"}), "email"),
        (json!({"username": "x y", "email": "x@y.org"}), "username"),
        (json!({"username": "x", "email": "x@y.org", "userState": "ASLEEP"}), "userState"),
        (json!({"username": "x", "email": "x@y.org", "roles": []}), "roles"),
        (json!({"username": "x", "email": "x@y.org", "favouriteColour": "red"}), "favouriteColour"),
    ] {
        let (status, err) = s.post(&users, &token, body.clone()).await;
        assert_eq!((status, err[0]["details"]["field"].clone()), (StatusCode::BAD_REQUEST, json!(field)), "{body}");
    }
    assert_eq!(s.get(&format!("{users}?search=x@y.org"), &token).await.1["metaInfo"]["totalElements"], 0);
}

#[tokio::test]
async fn lists_filter_by_search_state_and_seat_with_meta_info() {
    let s = Server::start().await;
    let token = s.token().await;
    let users = format!("/{}/admin/users", s.tenant);
    for (name, state, seats) in
        [("alice", "ACTIVE", json!(["GENERAL"])), ("bob", "INACTIVE", json!([])), ("carol", "PROVISIONED", json!([]))]
    {
        let body = json!({"username": name, "email": format!("{name}@lightmatter.test"), "userState": state, "seats": seats, "lastName": name.to_uppercase()});
        assert_eq!(s.post(&users, &token, body).await.0, StatusCode::CREATED);
    }
    let names = |page: &Value| -> Vec<String> {
        page["data"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_string()).collect()
    };
    let (status, page) = s.get(&format!("{users}?page=0"), &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        page["metaInfo"],
        json!({"page": 0, "pageSize": 20, "totalElements": 3, "numberOfElements": 3, "lastPage": true, "firstPage": true, "totalPages": 1})
    );
    assert_eq!(names(&s.get(&format!("{users}?search=LIGHTMATTER&size=2"), &token).await.1), ["alice", "bob"]);
    assert_eq!(s.get(&format!("{users}?size=2"), &token).await.1["metaInfo"]["lastPage"], false);
    assert_eq!(names(&s.get(&format!("{users}?userState=INACTIVE"), &token).await.1), ["bob"]);
    assert_eq!(names(&s.get(&format!("{users}?seatAssigned=True"), &token).await.1), ["alice"]);
    assert_eq!(names(&s.get(&format!("{users}?seatAssigned=False"), &token).await.1), ["bob", "carol"]);
    assert_eq!(names(&s.get(&format!("{users}?sort=username,desc"), &token).await.1), ["carol", "bob", "alice"]);
    assert_eq!(s.get(&format!("{users}?userState=SLEEPING"), &token).await.0, StatusCode::BAD_REQUEST);
    assert_eq!(s.get(&format!("{users}?seatAssigned=maybe"), &token).await.0, StatusCode::BAD_REQUEST);
    let (status, page) = s.get(&s.sandbox("/users?region=east-coast"), &token).await;
    assert_eq!((status, page["metaInfo"]["totalElements"].clone()), (StatusCode::OK, json!(0)));
    assert_eq!(s.get(&s.sandbox("/users"), &token).await.1["metaInfo"]["totalElements"], 3);
}

#[tokio::test]
async fn users_of_one_tenant_are_invisible_to_another() {
    let a = Server::start().await;
    let token_a = a.token().await;
    let (_, u) = a
        .post(&format!("/{}/admin/users", a.tenant), &token_a, json!({"username": "private", "email": "p@x.org"}))
        .await;
    let other = common::unique("t");
    a.cli(&["tenants", "create", &other]);
    let secret =
        common::secret_of(&a.cli(&["clients", "create", "--tenant", &other, "--name", "OTHERCLIENT", "--all-access"]));
    let (status, body) = a
        .call(Method::POST, &format!("/{other}/admin/api_clients/OTHERCLIENT"), None, Some(json!({"secret": secret})))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let token_b = body["token"].as_str().unwrap();
    assert_eq!(a.get(&format!("/{other}/admin/users/private"), token_b).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        a.get(&format!("/{other}/admin/users/{}?type=ID", u["id"].as_str().unwrap()), token_b).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(a.get(&format!("/{other}/admin/users"), token_b).await.1["metaInfo"]["totalElements"], 0);
    assert_eq!(a.delete(&format!("/{other}/admin/users/private"), token_b).await.0, StatusCode::NOT_FOUND);
    // A care team in tenant B cannot name tenant A's user.
    let (status, _) = a
        .post(
            &format!("/{other}/sandbox/patients"),
            token_b,
            json!({"firstName": "X", "lastName": "Y", "careTeam": [{"id": u["id"]}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(a.get(&format!("/{}/admin/users/private", a.tenant), &token_a).await.0, StatusCode::OK);
}
