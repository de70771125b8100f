"""Scenario: welkin's generic model bases, `welkin.models.base.Resource`
(get, post, patch, put, delete) and `Collection` (get, post, patch, request),
used directly with explicit paths, as client users do for endpoints the client
has no model for. Each call goes through the same `Client.request` as the
models; the scenarios check the server's answers round-trip into the objects.

The bases are bound to the test's client the way welkin binds its models
(a class attribute `_client`), on throw-away subclasses without methods of
their own, so every call below is the base class's own code.
"""

import pytest
from welkin.models.base import Collection, Resource
from welkin.pagination import MetaInfoIterator, PageableIterator, PageNumberIterator

from parity import covers
from support import assert_error, http_error, sent_json, uniq

SELF_CARE = "cdt-self-care"


def _bound(client):
    class Thing(Resource):
        pass

    class Things(Collection):
        resource = Thing
        iterator = PageableIterator

    class Rows(Collection):
        resource = Thing
        iterator = PageNumberIterator

    class People(Collection):
        resource = Thing
        iterator = MetaInfoIterator

    for cls in (Thing, Things, Rows, People):
        cls._client = client
    return Thing, Things, Rows, People


@covers("Resource.post", "Resource.get", "Resource.patch", "Resource.delete")
def test_resource_crud_with_explicit_paths(ow, client, recorder):
    Thing, *_ = _bound(client)
    last = uniq("Base")

    made = Thing(firstName="Gen", lastName=last)
    assert made.post("sandbox/patients") is made
    assert recorder.last() == ("POST", f"/{ow.tenant}/sandbox/patients", 201)
    assert sent_json(recorder) == {"firstName": "Gen", "lastName": last}
    assert made["lastName"] == last and made["id"]
    assert made["createdByName"] == f"API_CLIENT:{ow.client_name}"

    # resource + subresource are joined into one path.
    fetched = Thing().get("sandbox/patients", made["id"])
    assert recorder.last() == ("GET", f"/{ow.tenant}/sandbox/patients/{made['id']}", 200)
    assert dict(fetched) == dict(made)

    patched = made.patch(f"sandbox/patients/{made['id']}", {"firstName": "Eric"})
    assert patched is made
    assert recorder.last() == ("PATCH", f"/{ow.tenant}/sandbox/patients/{made['id']}", 200)
    assert sent_json(recorder) == {"firstName": "Eric"}
    assert made["firstName"] == "Eric"
    assert client.Patient(id=made["id"]).get()["firstName"] == "Eric"

    made.delete(f"sandbox/patients/{made['id']}")
    method, path, status = recorder.last()
    assert (method, path) == ("DELETE", f"/{ow.tenant}/sandbox/patients/{made['id']}")
    assert 200 <= status < 300
    assert_error(http_error(lambda: Thing().get("sandbox/patients", made["id"])),
                 404, "PATIENT_NOT_FOUND")


@covers("Resource.put", "Resource.get")
def test_resource_put_replaces_the_care_plan_overview(ow, client, recorder):
    Thing, *_ = _bound(client)
    patient = client.Patient(firstName="Put", lastName=uniq("Base")).create()
    path = f"sandbox/patients/{patient['id']}/care-plan/overview"
    client.CarePlan(overview="first").create(patient_id=patient["id"])

    overview = Thing(overview="replaced by PUT")
    assert overview.put(path) is overview
    assert recorder.last() == ("PUT", f"/{ow.tenant}/{path}", 200)
    assert sent_json(recorder) == {"overview": "replaced by PUT"}
    assert overview["overview"] == "replaced by PUT"

    plan = Thing().get(f"sandbox/patients/{patient['id']}/care-plan")
    assert plan["patientOverview"]["overview"] == "replaced by PUT"

    # An error answer raises and leaves the object as it was.
    bad = Thing(colour="red")
    with pytest.raises(Exception):
        bad.put(path)
    assert dict(bad) == {"colour": "red"}


@covers("Collection.get", "Collection.request")
def test_collection_get_pages_and_request_paginates(ow, client, recorder):
    _, _, _, People = _bound(client)
    made = {client.User(username=(u := uniq("base")), email=f"{u}@example.com").create()["id"]
            for _ in range(3)}

    # Without paginate: one collection of the first `size` items, one request.
    recorder.clear()
    page = People().get("admin/users", size=2)
    assert recorder.calls == [("GET", f"/{ow.tenant}/admin/users?size=2&page=0", 200)]
    assert len(page) == 2
    assert all(type(u).__name__ == "Thing" for u in page)

    recorder.clear()
    walked = People().get("admin/users", paginate=True, size=2)
    ids = [u["id"] for u in walked]
    assert made <= set(ids)
    assert len(ids) == len(set(ids))
    assert len(recorder.calls) == -(-len(ids) // 2), recorder.calls

    # request() with any client method: the same walk.
    again = [u["id"] for u in People().request(client.get, "admin/users", paginate=True, size=2)]
    assert sorted(again) == sorted(ids)


@covers("Collection.post", "Collection.patch")
def test_collection_post_and_patch(ow, client, recorder):
    _, Things, Rows, _ = _bound(client)
    last = uniq("Coll")
    made = [client.Patient(firstName=f"C{i}", lastName=last).create()["id"] for i in range(3)]

    found = Things().post("sandbox/by-filter/patients", json={}, paginate=True, size=50)
    assert set(made) <= {p["id"] for p in found}
    assert recorder.last()[0] == "POST"

    patient_id = made[0]
    rows = [client.CDT(cdtName=SELF_CARE, **{"cdtf-unwind": f"u{n}"}).create(patient_id)
            for n in range(2)]
    body = {"rows": [{"id": r["id"], "jsonBody": {"cdtf-unwind": "patched"}} for r in rows]}
    result = Rows().patch(f"sandbox/patients/{patient_id}/cdts/{SELF_CARE}", json=body)
    assert recorder.last() == (
        "PATCH", f"/{ow.tenant}/sandbox/patients/{patient_id}/cdts/{SELF_CARE}?page=0", 200)
    assert sent_json(recorder) == body
    assert [r["id"] for r in result] == [r["id"] for r in rows]
    assert [r["result"]["status"] for r in result] == ["OK", "OK"]
    for r in rows:
        again = client.CDT(cdtName=SELF_CARE, id=r["id"]).get(patient_id)
        assert again["jsonBody"]["cdtf-unwind"] == "patched"
