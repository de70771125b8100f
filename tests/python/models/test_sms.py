"""SMS, driven through the real welkin client (`SMS`, `SMSes`: GET {i}/patients/{pid}/sms/{id}
and GET {i}/patients/{pid}/sms with the Spring-page iterator).

The client only reads SMS; messages are made with raw requests: sends
(POST {i}/patients/{pid}/sms, from the instance's SMS communication ID) and inbound
messages through the provider webhook (POST {i}/providers/sms/inbound in Twilio's form
fields). Expected shapes: the recorded empty page and 404 (cassettes
test_smses_patient_list, test_sms_patient_read) and the V8 reference's SMS object.
"""

import secrets
import uuid

import pytest
from welkin.exceptions import WelkinHTTPError
from welkin.models.sms import SMS as SMSModel

from parity import covers
from support import TS_RE, activate, assert_error, capped, uniq

SMS_KEYS = {
    "id", "sendNow", "scheduledAt", "sentAt", "receivedAt", "date", "careTeam", "patientInfo",
    "timezone", "sender", "from", "receiver", "to", "direction", "externalId", "starred",
    "senderName", "receiverName", "message", "parts", "status",
}
PAGE_KEYS = {
    "content", "pageable", "last", "totalPages", "totalElements", "first", "number", "sort",
    "numberOfElements", "size", "empty",
}


def _phone():
    return "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))


@pytest.fixture(scope="module")
def line(api):
    """The sandbox's SMS sending line (created once; 409 when another test made it)."""
    number = "+15625345699"
    r = api.post("sandbox/communication-ids", json={"channel": "SMS", "value": number})
    assert r.status_code in (201, 409), r.text
    return number


@pytest.fixture
def patient(client):
    return client.Patient(firstName="Tex", lastName=uniq("Ter"), phone=_phone()).create()


def _send(api, pid, **body):
    r = api.post(f"sandbox/patients/{pid}/sms", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _inbound(api, sender, text, sid=None):
    fields = {"From": sender, "To": "+15625345699", "Body": text}
    if sid:
        fields["MessageSid"] = sid
    r = api.post("sandbox/providers/sms/inbound", data=fields, headers={"Accept": "application/json"})
    assert r.status_code == 200, r.text
    return r.json()


@covers("SMS.get")
def test_sms_get_of_a_missing_sms_is_the_recorded_404(ow, client, recorder, patient):
    missing = str(uuid.uuid4())
    with pytest.raises(WelkinHTTPError) as info:
        client.SMS(id=missing).get(patient["id"])
    assert recorder.last() == ("GET", f"/{ow.tenant}/sandbox/patients/{patient['id']}/sms/{missing}", 404)
    first = assert_error(info.value.response, 404, "SMS_NOT_FOUND")
    assert first["componentType"] == "SMS"
    assert first["message"] == "SMS was not found"
    assert first["details"] == {"id": missing}


@covers("SMSes.get")
def test_smses_of_a_patient_without_sms_is_the_recorded_empty_page(ow, client, recorder, patient):
    got = client.SMSes().get(patient["id"])
    assert len(got) == 0
    method, path, status = recorder.last()
    assert (method, status) == ("GET", 200)
    assert path == f"/{ow.tenant}/sandbox/patients/{patient['id']}/sms?page=0"
    body = recorder.responses[-1].json()
    assert set(body) == PAGE_KEYS
    assert body["content"] == [] and body["last"] is True and body["totalPages"] == 0
    assert body["pageable"]["pageSize"] == 20 and body["empty"] is True


@covers("SMS.get", "SMSes.get")
def test_sent_sms_read_through_the_models(ow, client, api, recorder, line, patient):
    pid = patient["id"]
    sent = _send(api, pid, message="Hi dear patient!", sendNow=True, receiver=pid)
    assert set(sent) == SMS_KEYS
    assert sent["status"] == "SENT" and sent["direction"] == "OUT"
    assert sent["from"] == line and sent["to"] == patient["phone"]
    assert sent["externalId"].startswith("SM") and TS_RE.match(sent["sentAt"])
    assert sent["senderName"] == f"API_CLIENT:{ow.client_name}"

    activate(client)
    got = client.SMS(id=sent["id"]).get(pid)
    assert isinstance(got, SMSModel)
    assert recorder.last() == ("GET", f"/{ow.tenant}/sandbox/patients/{pid}/sms/{sent['id']}", 200)
    assert dict(got) == sent

    later = _send(api, pid, message="See you soon", sendNow=False, scheduledAt="2100-01-01T09:00:00.000Z")
    assert later["status"] == "SCHEDULED"
    _send(api, pid, message="Third")
    listed = client.SMSes().get(pid, sort="date,desc")
    assert [m["id"] for m in listed][0] == later["id"]
    assert all(isinstance(m, SMSModel) and set(m) == SMS_KEYS for m in listed)
    assert "sort=date%2Cdesc" in recorder.last()[1]

    # The pageable iterator walks every page and stops on `last`.
    walked = list(capped(client.SMSes().get(pid, paginate=True, size=2), 20))
    assert len(walked) == 3
    pages = [c for c in recorder.calls if "/sms?" in c[1] and "size=2" in c[1]]
    assert len(pages) == 2, recorder.calls


def test_scheduled_sms_update_and_delete(api, line, patient):
    pid = patient["id"]
    s = _send(api, pid, message="Reminder", scheduledAt="2100-01-01T09:00:00.000Z")
    path = f"sandbox/patients/{pid}/sms/{s['id']}"
    r = api.request("PUT", path, json={"message": "Reminder: fast from midnight", "starred": True})
    assert r.status_code == 200, r.text
    assert r.json()["message"] == "Reminder: fast from midnight" and r.json()["starred"] is True
    assert api.delete(path).status_code == 200
    assert_error(api.get(path), 404, "SMS_NOT_FOUND")

    sent = _send(api, pid, message="Sent already")
    path = f"sandbox/patients/{pid}/sms/{sent['id']}"
    first = assert_error(api.request("PUT", path, json={"message": "edit"}), 400, "VALIDATION_ERROR")
    assert first["details"]["field"] == "message"
    assert_error(api.delete(path), 409, "SMS_CANNOT_BE_DELETED")


@covers("SMSes.get")
def test_inbound_sms_from_the_patient_lands_in_their_list(client, api, patient):
    got = _inbound(api, patient["phone"], "Thanks!", sid="SM" + secrets.token_hex(16))
    assert got["status"] == "RECEIVED" and got["sender"] == patient["id"]
    activate(client)
    listed = client.SMSes().get(patient["id"])
    assert [m["id"] for m in listed] == [got["id"]]
    assert listed[0]["direction"] == "IN"


@covers("SMS.get", "SMSes.get")
def test_unmatched_inbound_sms_is_assigned_then_listed(client, api, patient):
    stranger = _phone()
    u = _inbound(api, stranger, "New number, who dis?")
    assert u["status"] == "UNRECOGNISED" and u["sender"] is None

    r = api.get("sandbox/unrecognized-patients/sms", params={"phone": stranger})
    assert r.status_code == 200, r.text
    assert [m["id"] for m in r.json()["content"]] == [u["id"]]
    r = api.get(f"sandbox/unrecognized-sms/{u['id']}")
    assert r.json()["status"] == "PENDING" and r.json()["fromNumber"] == stranger

    activate(client)
    assert len(client.SMSes().get(patient["id"])) == 0

    r = api.request("PUT", f"sandbox/unrecognized-patients/sms/{u['id']}", json={"sender": patient["id"]})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "RECEIVED"
    listed = client.SMSes().get(patient["id"])
    assert [m["id"] for m in listed] == [u["id"]]
    got = client.SMS(id=u["id"]).get(patient["id"])
    assert got["senderName"] == f"{patient['firstName']} {patient['lastName']}"
    assert api.get(f"sandbox/unrecognized-patients/sms/{u['id']}").status_code == 404
    docs = api.get(f"sandbox/unrecognized-sms/{u['id']}").json()
    assert docs["status"] == "RESOLVED" and docs["patientId"] == patient["id"]


@covers("SMSes.get")
def test_docs_site_resolution(client, api, patient):
    u = _inbound(api, _phone(), "Please call me")
    first = assert_error(
        api.patch(f"sandbox/unrecognized-sms/{u['id']}", json={"patientId": patient["id"], "status": "PENDING"}),
        400, "VALIDATION_ERROR")
    assert first["details"]["field"] == "status"
    r = api.patch(f"sandbox/unrecognized-sms/{u['id']}", json={"patientId": patient["id"], "status": "RESOLVED"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "RESOLVED"
    activate(client)
    assert [m["id"] for m in client.SMSes().get(patient["id"])] == [u["id"]]


def test_outbox_shows_what_was_sent(api, line, patient):
    sent = _send(api, patient["id"], message="Outbox check")
    r = api.get("sandbox/outbox/sms", params={"smsId": sent["id"]})
    assert r.status_code == 200, r.text
    [item] = r.json()["content"]
    assert item["externalId"] == sent["externalId"] and item["to"] == patient["phone"]
    assert item["message"] == "Outbox check"


@covers("SMSes.get")
def test_a_client_without_the_sms_policy_is_refused(ow, ro_client, client, patient):
    activate(ro_client)
    with pytest.raises(WelkinHTTPError) as info:
        ro_client.SMSes().get(patient["id"])
    assert_error(info.value.response, 403, "ACCESS_FOR_API_CLIENT_RESTRICTED", with_date=False)
    activate(client)
