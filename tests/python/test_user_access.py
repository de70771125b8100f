"""Users' access (application access, roles and policies, territories): the welkin
client has no model for these endpoints, so they are called raw; their effect is read
back through the client's User and Users models."""

from support import assert_error, uniq


def _user(client):
    username = uniq("ua")
    return client.User(username=username, email=f"{username}@example.com").create()


def test_access_changes_show_on_the_user(ow, client, api):
    user = _user(client)

    r = api.request("PUT", f"admin/application-accesses/{user['id']}", json={
        "adminAccessEnabled": True, "auditSecurityAccessEnabled": False,
        "instanceAccesses": [{"instanceName": "sandbox", "workshopAccessEnabled": True,
                              "auditDataAccessEnabled": False}]})
    assert r.status_code == 200, r.text
    access = r.json()
    assert access["userId"] == user["id"]
    assert access["instanceAccesses"][0]["instanceName"] == "sandbox"

    r = api.request("PUT", f"admin/user-permissions/{user['id']}", json={"permissions": [
        {"permissionName": "caregiver", "instanceName": "sandbox", "type": "SECURITY_ROLE"},
        {"permissionName": "cdt_management", "instanceName": "sandbox", "type": "SECURITY_POLICY"}]})
    assert r.status_code == 200, r.text
    assert r.json()["permissions"][0] == {
        "permissionName": "caregiver", "instanceName": "sandbox", "type": "SECURITY_ROLE",
        "primaryRole": True}

    r = api.request("PUT", f"admin/user-territories/{user['id']}", json={"territories": [
        {"name": "washington", "territories": ["seattle"], "instanceName": "sandbox"}]})
    assert r.status_code == 200, r.text
    assert api.get(f"admin/user-territories/{user['id']}").json() == r.json()

    again = client.User(id=user["id"]).get()
    assert again["applicationAccess"] == access
    assert [(x["permissionName"], x["primaryRole"]) for x in again["roles"]] == [("caregiver", True)]
    assert [x["permissionName"] for x in again["policies"]] == ["cdt_management"]
    assert [(t["name"], t["territories"], t["instanceName"]) for t in again["territories"]] == [
        ("washington", ["seattle"], "sandbox")]

    # Users(region=...) lists the users covering a region of the client's instance.
    covering = [u["id"] for u in client.Users().get(region="washington")]
    assert user["id"] in covering


def test_unknown_names_are_refused(ow, client, api):
    user = _user(client)

    r = api.request("PUT", f"admin/user-permissions/{user['id']}", json={"permissions": [
        {"permissionName": "astronaut", "instanceName": "sandbox", "type": "SECURITY_ROLE"}]})
    first = assert_error(r, 400, "VALIDATION_ERROR")
    assert first["details"]["field"] == "permissions[0].permissionName"

    r = api.request("PUT", f"admin/user-territories/{user['id']}", json={"territories": [
        {"name": "washington", "territories": ["boston"], "instanceName": "sandbox"}]})
    first = assert_error(r, 400, "VALIDATION_ERROR")
    assert first["details"]["field"] == "territories[0].territories[0]"

    again = client.User(id=user["id"]).get()
    assert (again["roles"], again["territories"]) == ([], [])
