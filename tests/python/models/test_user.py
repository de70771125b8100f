"""Users (tenant-level admin API), driven through the real welkin client."""

import uuid

import pytest
from welkin.exceptions import WelkinHTTPError

from parity import covers
from support import TS_RE, assert_error, capped, uniq

USER_KEYS = [
    "territories", "roles", "policies", "seats", "seatAssignAllowed", "applicationAccess",
    "id", "username", "email", "enabled", "mfaEnabled", "statusType",
    "createdAt", "updatedAt", "ssoAccess", "passwordAccess", "terminologyName",
    "userState", "customUserAttributes", "allowedToReceiveCalls", "userAttributes",
    "_root_user",
]
APPLICATION_ACCESS_KEYS = {
    "id", "createdAt", "updatedAt", "userId", "adminAccessEnabled",
    "auditSecurityAccessEnabled", "instanceAccesses",
}
META_INFO_KEYS = {
    "page", "pageSize", "totalElements", "numberOfElements", "lastPage", "firstPage",
    "totalPages",
}


def _new_user(client, **extra):
    username = uniq("u")
    return client.User(username=username, email=f"{username}@example.com", **extra).create()


@covers("User.create")
def test_create_user_shape(ow, client, recorder):
    username = uniq("u")
    email = f"{username}@example.com"

    user = client.User(username=username, email=email).create()

    assert recorder.last("POST") == ("POST", f"/{ow.tenant}/admin/users", 201)
    missing = [k for k in USER_KEYS if k not in user]
    assert not missing, f"missing keys {missing} in {dict(user)}"
    uuid.UUID(user["id"])
    assert user["username"] == username
    assert user["email"] == email
    assert user["enabled"] is False
    assert user["terminologyName"] == "english"
    assert user["userState"] == "PROVISIONED"
    assert user["customUserAttributes"] == {}
    assert user["_root_user"] is False
    for key in ("territories", "roles", "policies", "seats"):
        assert user[key] == [], (key, user[key])
    access = user["applicationAccess"]
    assert APPLICATION_ACCESS_KEYS <= set(access), access
    assert access["userId"] == user["id"]
    assert TS_RE.match(user["createdAt"]), user["createdAt"]
    assert TS_RE.match(user["updatedAt"]), user["updatedAt"]


@covers("User.create", "User.get")
def test_read_user_by_id(ow, client, recorder):
    created = _new_user(client)

    fetched = client.User(id=created["id"]).get()

    assert recorder.last("GET") == (
        "GET", f"/{ow.tenant}/admin/users/{created['id']}?type=ID", 200)
    assert fetched["username"] == created["username"]
    assert fetched["email"] == created["email"]


@covers("User.create", "User.get", "User.update")
def test_update_user_by_username(ow, client, recorder):
    user = _new_user(client)

    user.update(firstName="Baz")

    assert recorder.last() == ("PATCH", f"/{ow.tenant}/admin/users/{user['username']}", 200)
    assert user["firstName"] == "Baz"
    assert user["updatedAt"] >= user["createdAt"]
    again = client.User(id=user["id"]).get()
    assert again["firstName"] == "Baz"
    assert again["username"] == user["username"]


@covers("User.create", "Users.get")
def test_search_users(ow, client, recorder):
    user = _new_user(client)

    found = client.Users().get(search=user["username"])

    method, path, status = recorder.last("GET")
    assert path.startswith(f"/{ow.tenant}/admin/users?")
    assert f"search={user['username']}" in path
    assert status == 200
    assert user["id"] in [u["id"] for u in found]
    assert all(u.__class__.__name__ == "User" for u in found)


@covers("User.create")
def test_users_list_raw_envelope(ow, client, api):
    _new_user(client)

    r = api.get("admin/users", params={"page": 0})

    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {"data", "metaInfo"}, sorted(body)
    assert isinstance(body["data"], list) and body["data"]
    meta = body["metaInfo"]
    assert META_INFO_KEYS <= set(meta), meta
    assert meta["page"] == 0
    assert meta["firstPage"] is True
    assert meta["numberOfElements"] == len(body["data"])
    assert meta["totalElements"] >= 1


@covers("User.create", "Users.get")
def test_users_paginate_metainfo(client):
    ids = {_new_user(client)["id"] for _ in range(5)}

    seen = [u["id"] for u in capped(client.Users().get(paginate=True, size=2), 10_000)]

    assert len(set(seen)) == len(seen), "a user was returned twice"
    assert ids <= set(seen)


@covers("User.create", "Users.get")
def test_users_filter_by_state(client):
    user = _new_user(client)

    provisioned = client.Users().get(user_state="PROVISIONED", paginate=True)
    states = {}
    for u in capped(provisioned, 10_000):
        states[u["id"]] = u["userState"]

    assert user["id"] in states
    assert set(states.values()) == {"PROVISIONED"}


@covers("Users.get")
def test_users_by_region_are_listed_per_instance(ow, client, api, recorder):
    inside, outside = _new_user(client), _new_user(client)
    r = api.request("PUT", f"admin/user-territories/{inside['id']}", json={"territories": [
        {"name": "washington", "territories": ["seattle"], "instanceName": "sandbox"}]})
    assert r.status_code == 200, r.text
    recorder.clear()

    found = client.Users().get(region="washington", paginate=True)
    ids = [u["id"] for u in capped(found, 10_000)]

    # With a region the client lists the instance's users (GET {instance}/users).
    method, path, status = recorder.calls[0]
    assert (method, status) == ("GET", 200)
    assert path.startswith(f"/{ow.tenant}/sandbox/users?"), path
    assert "region=washington" in path
    assert inside["id"] in ids
    assert outside["id"] not in ids
    assert len(ids) == len(set(ids))
    assert client.Users().get(region="california", search=inside["username"]) == []


@covers("User.create", "User.delete", "User.get")
def test_delete_user(ow, client, recorder):
    user = _new_user(client)

    user.delete()

    method, path, status = recorder.last()
    assert (method, path) == ("DELETE", f"/{ow.tenant}/admin/users/{user['id']}?type=ID")
    assert 200 <= status < 300
    with pytest.raises(WelkinHTTPError) as exc_info:
        client.User(id=user["id"]).get()
    first = assert_error(exc_info.value.response, 404, "USER_NOT_FOUND")
    assert first["componentType"] == "USER"


def test_users_me_is_404(api):
    r = api.get("admin/users/me")

    first = assert_error(r, 404, "USER_NOT_FOUND")
    assert first["componentType"] == "USER"
