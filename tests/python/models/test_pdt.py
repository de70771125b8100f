"""Scenario: `PDT` (profile records: create, get), driven through the real welkin
client (new in welkin 0.1.12).

The tenant has the designer fixture published by conftest.py:
pdt-emergency-contact {pdtf-name: text, pdtf-phone: phone, pdtf-email: email}
and pdt-insurance. Expected shapes are those recorded for Welkin by the client's
own test suite (cassettes test_pdt_create, test_contact_create[custodian] and
its PDT fixture; summarised in spec/client-behaviour.md §9), written out here.
"""

import uuid

import pytest
from welkin.exceptions import WelkinHTTPError
from welkin.models.pdt import PDT as PDTModel

from parity import covers
from support import TS_RE, assert_error
from support import sent_json as _sent

EMERGENCY = "pdt-emergency-contact"

PDT_RECORD_KEYS = {"id", "createdAt", "updatedAt", "fullValue", "deleted", "jsonBody", "pdtName"}
EMERGENCY_FIELDS = {"pdtf-name", "pdtf-phone", "pdtf-email"}
# A PDT record's jsonBody: its fields plus the same system keys as a CDT record's.
SYSTEM_FIELDS = {
    "id", "created_at", "created_by", "created_by_name", "updated_at", "updated_by",
    "updated_by_name", "source_type", "source_name", "source_id", "external_id",
    "external_guid",
}


# --------------------------------------------------------------------------
# PDT records
# --------------------------------------------------------------------------

@covers("PDT.create")
def test_create_profile_record_shape(ow, client, recorder):
    rec = client.PDT(**{"pdtf-name": "Test Name"}).create(EMERGENCY)

    assert recorder.last("POST") == ("POST", f"/{ow.tenant}/sandbox/pdts/{EMERGENCY}", 201)
    assert _sent(recorder) == {"pdtf-name": "Test Name"}, "flat fields"
    body = recorder.responses[-1].json()
    assert set(body) == PDT_RECORD_KEYS, sorted(body)
    uuid.UUID(body["id"])
    assert body["pdtName"] == EMERGENCY
    assert body["deleted"] is False
    assert TS_RE.match(body["createdAt"]), body["createdAt"]
    assert body["updatedAt"] == body["createdAt"]
    assert body["fullValue"] == "Test Name", "the values that are set"

    jb = body["jsonBody"]
    assert set(jb) == EMERGENCY_FIELDS | SYSTEM_FIELDS, sorted(jb)
    assert (jb["pdtf-name"], jb["pdtf-phone"], jb["pdtf-email"]) == ("Test Name", None, None)
    assert jb["id"] == body["id"]
    assert jb["created_at"] == body["createdAt"]
    assert jb["updated_at"] == body["updatedAt"]
    assert jb["created_by_name"] == f"API_CLIENT:{ow.client_name}"
    for key in ("source_type", "source_name", "source_id", "external_id", "external_guid"):
        assert jb[key] is None, (key, jb[key])

    assert isinstance(rec, PDTModel)
    assert {k: rec[k] for k in PDT_RECORD_KEYS} == body


@covers("PDT.create", "PDT.get")
def test_read_profile_record(ow, client, recorder):
    created = client.PDT(**{"pdtf-name": "Read Me", "pdtf-phone": "+15556491369"}).create(
        EMERGENCY)
    created_body = recorder.responses[-1].json()

    fetched = client.PDT(id=created["id"], pdtName=EMERGENCY).get()

    assert recorder.last() == (
        "GET", f"/{ow.tenant}/sandbox/pdts/{EMERGENCY}/{created['id']}", 200)
    assert recorder.responses[-1].json() == created_body
    assert dict(fetched) == created_body
    assert fetched["jsonBody"]["pdtf-phone"] == "+15556491369"


@covers("PDT.get")
def test_read_unknown_profile_record_is_404(client):
    with pytest.raises(WelkinHTTPError) as exc_info:
        client.PDT(id=str(uuid.uuid4()), pdtName=EMERGENCY).get()
    assert_error(exc_info.value.response, 404)


@covers("PDT.create")
@pytest.mark.parametrize("fields,named", [
    ({"pdtf-name": "X", "pdtf-nickname": "Y"}, "pdtf-nickname"),
    ({"pdtf-name": "X", "pdtf-email": "not-an-email"}, "pdtf-email"),
    ({"pdtf-name": "X", "pdtf-phone": "12"}, "pdtf-phone"),
])
def test_schema_breaking_profile_record_is_refused(ow, client, api, fields, named):
    def total():
        r = api.get(f"sandbox/pdts/{EMERGENCY}", params={"page": 0, "size": 1})
        assert r.status_code == 200, r.text
        return r.json()["records"]["metaInfo"]["totalElements"]

    before = total()
    with pytest.raises(WelkinHTTPError) as exc_info:
        client.PDT(**fields).create(EMERGENCY)

    err = assert_error(exc_info.value.response, 400, "VALIDATION_ERROR")
    assert named in err["message"], err
    assert total() == before, "nothing was stored"


@covers("PDT.create")
def test_unknown_pdt_is_404(client):
    with pytest.raises(WelkinHTTPError) as exc_info:
        client.PDT(**{"pdtf-name": "X"}).create("pdt-nope")
    assert_error(exc_info.value.response, 404, "DT_NOT_FOUND")
