"""Profile (PDT) records and contacts, driven through the real welkin client
(`PDT`, `Contact`; both new in welkin 0.1.12).

The tenant has the designer fixture published by conftest.py:
pdt-emergency-contact {pdtf-name: text, pdtf-phone: phone, pdtf-email: email}
and pdt-insurance. Expected shapes are those recorded for Welkin by the client's
own test suite (cassettes test_pdt_create, test_contact_create[custodian] and
its PDT fixture; summarised in spec/client-behaviour.md §9), written out here.
"""

import json
import uuid

import pytest
from welkin.exceptions import WelkinHTTPError
from welkin.models.contact import Contact as ContactModel
from welkin.models.pdt import PDT as PDTModel

from support import TS_RE, assert_error, uniq

EMERGENCY = "pdt-emergency-contact"

PDT_RECORD_KEYS = {"id", "createdAt", "updatedAt", "fullValue", "deleted", "jsonBody", "pdtName"}
EMERGENCY_FIELDS = {"pdtf-name", "pdtf-phone", "pdtf-email"}
# A PDT record's jsonBody: its fields plus the same system keys as a CDT record's.
SYSTEM_FIELDS = {
    "id", "created_at", "created_by", "created_by_name", "updated_at", "updated_by",
    "updated_by_name", "source_type", "source_name", "source_id", "external_id",
    "external_guid",
}

CONTACT_KEYS = {
    "id", "createdAt", "updatedAt", "createdBy", "updatedBy", "createdByName", "updatedByName",
    "name", "email", "emailLabel", "emailPdtFieldName", "phone", "phoneLabel",
    "phonePdtFieldName", "secondaryPhone", "secondaryPhoneLabel", "secondaryPhonePdtFieldName",
    "patientId", "pdtRecordId", "relation", "active",
}


@pytest.fixture
def patient_id(client):
    return client.Patient(firstName="Pro", lastName=uniq("File")).create()["id"]


def _sent(recorder):
    body = recorder.responses[-1].request.body
    return json.loads(body) if body else None


# --------------------------------------------------------------------------
# PDT records
# --------------------------------------------------------------------------

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


def test_read_unknown_profile_record_is_404(client):
    with pytest.raises(WelkinHTTPError) as exc_info:
        client.PDT(id=str(uuid.uuid4()), pdtName=EMERGENCY).get()
    assert_error(exc_info.value.response, 404)


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


def test_unknown_pdt_is_404(client):
    with pytest.raises(WelkinHTTPError) as exc_info:
        client.PDT(**{"pdtf-name": "X"}).create("pdt-nope")
    assert_error(exc_info.value.response, 404, "DT_NOT_FOUND")


# --------------------------------------------------------------------------
# contacts
# --------------------------------------------------------------------------

def _profile(client, email):
    return client.PDT(**{"pdtf-name": "Ann", "pdtf-email": email}).create(EMERGENCY)


def test_create_contact_from_profile(ow, client, recorder, patient_id):
    email = f"{uniq('ann')}@example.org"
    profile = _profile(client, email)
    recorder.clear()

    contact = client.Contact(name="Ann", relation="SPOUSE", pdtRecordId=profile["id"],
                             email=email, emailPdtFieldName="pdtf-email").create(patient_id)

    assert recorder.last() == ("POST", f"/{ow.tenant}/sandbox/patients/{patient_id}/contacts", 200)
    assert _sent(recorder) == {"name": "Ann", "relation": "SPOUSE", "pdtRecordId": profile["id"],
                               "email": email, "emailPdtFieldName": "pdtf-email"}
    body = recorder.responses[-1].json()
    assert set(body) == CONTACT_KEYS, sorted(body)
    uuid.UUID(body["id"])
    assert {k: body[k] for k in ("name", "relation", "pdtRecordId", "email",
                                 "emailPdtFieldName", "patientId", "active")} == {
        "name": "Ann", "relation": "SPOUSE", "pdtRecordId": profile["id"], "email": email,
        "emailPdtFieldName": "pdtf-email", "patientId": patient_id, "active": True,
    }
    for key in ("emailLabel", "phone", "phoneLabel", "phonePdtFieldName", "secondaryPhone",
                "secondaryPhoneLabel", "secondaryPhonePdtFieldName"):
        assert body[key] is None, (key, body[key])
    assert body["createdByName"] == f"API_CLIENT:{ow.client_name}"
    assert body["updatedByName"] == f"API_CLIENT:{ow.client_name}"
    assert isinstance(body["createdBy"], str) and body["createdBy"]
    assert TS_RE.match(body["createdAt"]), body["createdAt"]
    assert TS_RE.match(body["updatedAt"]), body["updatedAt"]

    assert isinstance(contact, ContactModel)
    assert dict(contact) == body


def test_create_contact_as_recorded(ow, client, recorder, patient_id):
    # As the client's own test does it: through the patient, with email and
    # phone taken from the profile record and relation "Parent".
    email = f"{uniq('dan')}@example.org"
    profile = client.PDT(**{"pdtf-name": "Dan", "pdtf-email": email,
                            "pdtf-phone": "+15005550008"}).create(EMERGENCY)
    patient = client.Patient(id=patient_id).get()
    data = {
        "name": "Test Contact",
        "relation": "Parent",
        "pdtRecordId": profile["id"],
        "email": profile["jsonBody"]["pdtf-email"],
        "emailPdtFieldName": "pdtf-email",
        "phone": profile["jsonBody"]["pdtf-phone"],
        "phonePdtFieldName": "pdtf-phone",
    }

    contact = patient.Contact(**data).create()

    assert recorder.last() == ("POST", f"/{ow.tenant}/sandbox/patients/{patient_id}/contacts", 200)
    assert set(contact) == CONTACT_KEYS, sorted(contact)
    assert contact["patientId"] == patient_id
    assert contact["pdtRecordId"] == profile["id"]
    assert (contact["name"], contact["email"], contact["phone"]) == (
        "Test Contact", email, "+15005550008")
    assert contact["phonePdtFieldName"] == "pdtf-phone"
    assert contact["relation"] == "Parent", "recorded: the relation comes back as sent"
    assert contact["active"] is True


def test_second_contact_for_the_same_profile_is_conflict(client, recorder, patient_id):
    email = f"{uniq('bea')}@example.org"
    profile = _profile(client, email)
    fields = dict(name="Bea", relation="SPOUSE", pdtRecordId=profile["id"], email=email,
                  emailPdtFieldName="pdtf-email")
    client.Contact(**fields).create(patient_id)

    with pytest.raises(WelkinHTTPError) as exc_info:
        client.Contact(**fields).create(patient_id)

    assert_error(exc_info.value.response, 409)
    r = client.get(f"sandbox/patients/{patient_id}/contacts/")
    assert [c["pdtRecordId"] for c in r] == [profile["id"]], "only the first one exists"


def test_contact_must_match_its_profile(client, patient_id):
    profile = _profile(client, f"{uniq('cy')}@example.org")

    with pytest.raises(WelkinHTTPError) as exc_info:
        client.Contact(name="Cy", relation="SPOUSE", pdtRecordId=profile["id"],
                       email="someone.else@example.org",
                       emailPdtFieldName="pdtf-email").create(patient_id)

    err = assert_error(exc_info.value.response, 400)
    assert "email" in err["message"], err
