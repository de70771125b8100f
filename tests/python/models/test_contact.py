"""Scenario: `Contact` (create, from a profile record), driven through the real
welkin client (new in welkin 0.1.12).

The tenant has the designer fixture published by conftest.py:
pdt-emergency-contact {pdtf-name: text, pdtf-phone: phone, pdtf-email: email}
and pdt-insurance. Expected shapes are those recorded for Welkin by the client's
own test suite (cassettes test_pdt_create, test_contact_create[custodian] and
its PDT fixture; summarised in spec/client-behaviour.md §9), written out here.
"""

import uuid

import pytest
from welkin.exceptions import WelkinHTTPError
from welkin.models.contact import Contact as ContactModel

from parity import covers
from support import TS_RE, assert_error, uniq
from support import sent_json as _sent

EMERGENCY = "pdt-emergency-contact"

CONTACT_KEYS = {
    "id", "createdAt", "updatedAt", "createdBy", "updatedBy", "createdByName", "updatedByName",
    "name", "email", "emailLabel", "emailPdtFieldName", "phone", "phoneLabel",
    "phonePdtFieldName", "secondaryPhone", "secondaryPhoneLabel", "secondaryPhonePdtFieldName",
    "patientId", "pdtRecordId", "relation", "active",
}


@pytest.fixture
def patient_id(client):
    return client.Patient(firstName="Pro", lastName=uniq("File")).create()["id"]


# --------------------------------------------------------------------------
# contacts
# --------------------------------------------------------------------------

def _profile(client, email):
    return client.PDT(**{"pdtf-name": "Ann", "pdtf-email": email}).create(EMERGENCY)


@covers("Contact.create")
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


@covers("Contact.create")
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


@covers("Contact.create")
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


@covers("Contact.create")
def test_contact_must_match_its_profile(client, patient_id):
    profile = _profile(client, f"{uniq('cy')}@example.org")

    with pytest.raises(WelkinHTTPError) as exc_info:
        client.Contact(name="Cy", relation="SPOUSE", pdtRecordId=profile["id"],
                       email="someone.else@example.org",
                       emailPdtFieldName="pdtf-email").create(patient_id)

    err = assert_error(exc_info.value.response, 400)
    assert "email" in err["message"], err
