"""Email, driven through the real welkin client (`Email`, `Emails`: GET {i}/patients/{pid}/
emails[/{id}] with the pageable iterator), with raw calls for what the client cannot do
(multipart sends, drafts, inbound and unmatched emails, the local outbox).

Recorded: an unknown email is 404 EMAIL_NOT_FOUND with details {patientId, id}; an empty
list is a Spring page with totalPages 0 (spec/client-behaviour.md §5.8). The email object
is the V8 reference's.
"""

import time
import uuid

import pytest
from welkin.exceptions import WelkinHTTPError
from welkin.models.email import Email as EmailModel

from parity import covers
from support import TS_RE, assert_error, capped, uniq

EMAIL_KEYS = {
    "id", "sendNow", "scheduledAt", "sentAt", "receivedAt", "date", "careTeam", "patientInfo",
    "timezone", "sender", "from", "receiver", "to", "direction", "externalId", "starred",
    "senderName", "receiverName", "subject", "body", "status", "secure", "attachments",
}
SPRING_PAGE_KEYS = {
    "content", "pageable", "last", "first", "number", "size", "numberOfElements",
    "totalElements", "totalPages", "sort", "empty",
}


@pytest.fixture
def people(client):
    """A care-team user and a patient with an email address whose point of contact is
    that user."""
    username = uniq("u")
    user = client.User(username=username, email=f"{username}@example.com",
                       firstName="Nick", lastName="Snow").create()
    patient = client.Patient(firstName="John", lastName=uniq("Doe"), email=f"{uniq('p')}@example.org",
                             careTeam=[{"id": user["id"], "pointOfContact": True}]).create()
    return user, patient


def _emails(patient):
    return f"sandbox/patients/{patient['id']}/emails"


def _wait(api, path, done, tries=60):
    for _ in range(tries):
        body = api.get(path).json()
        if done(body):
            return body
        time.sleep(0.1)
    raise AssertionError(f"{path} never reached the expected state: {body}")


@covers("Emails.get")
def test_empty_list_is_the_recorded_spring_page(ow, client, recorder, people):
    _, patient = people
    emails = client.Emails().get(patient["id"])
    assert recorder.last() == ("GET", f"/{ow.tenant}/sandbox/patients/{patient['id']}/emails?page=0", 200)
    assert list(emails) == []
    body = recorder.responses[-1].json()
    assert set(body) == SPRING_PAGE_KEYS
    assert (body["totalPages"], body["totalElements"], body["empty"], body["last"]) == (0, 0, True, True)


@covers("Email.get")
def test_unknown_email_is_the_recorded_404(ow, client, people):
    _, patient = people
    missing = str(uuid.uuid4())
    with pytest.raises(WelkinHTTPError) as exc:
        client.Email(id=missing).get(patient["id"])
    first = assert_error(exc.value.response, 404, "EMAIL_NOT_FOUND")
    assert first["componentType"] == "EMAIL"
    assert first["message"] == "Email is not found"
    assert first["details"] == {"patientId": patient["id"], "id": missing}


@covers("Email.get", "Emails.get")
def test_send_then_read_and_list_with_the_client(ow, client, api, recorder, people):
    user, patient = people
    sent = []
    for n in range(3):
        r = api.post(_emails(patient), json={"subject": f"Subject {n}", "body": f"Body {n}",
                                             "receiver": patient["id"], "sendNow": True})
        assert r.status_code == 201, r.text
        sent.append(r.json())
    e = sent[0]
    assert set(e) == EMAIL_KEYS
    assert (e["status"], e["direction"], e["sendNow"], e["secure"]) == ("ACCEPTED", "OUT", False, False)
    assert (e["sender"], e["senderName"], e["careTeam"]) == (user["id"], "Nick Snow", "Nick Snow")
    assert (e["receiver"], e["to"]) == (patient["id"], patient["email"])
    assert e["patientInfo"] == f"John {patient['lastName']}"
    assert TS_RE.match(e["sentAt"]) and e["date"] == e["sentAt"]

    # Email(id).get(patient_id) and the Patient subresource form.
    one = client.Email(id=e["id"]).get(patient["id"])
    assert recorder.last() == ("GET", f"/{ow.tenant}/sandbox/patients/{patient['id']}/emails/{e['id']}", 200)
    assert isinstance(one, EmailModel)
    assert set(one) == EMAIL_KEYS and one["subject"] == "Subject 0"
    _wait(api, f"{_emails(patient)}/{e['id']}", lambda b: b["status"] == "DELIVERED")
    via_patient = client.Patient(id=patient["id"]).Email(id=e["id"]).get()
    assert via_patient["status"] == "DELIVERED"

    # Emails().get(patient_id, sort): a Spring page walked by the pageable iterator.
    listed = client.Emails().get(patient["id"], sort="date,desc")
    assert [m["subject"] for m in listed] == ["Subject 2", "Subject 1", "Subject 0"]
    assert all(isinstance(m, EmailModel) for m in listed)
    assert recorder.last()[1] == f"/{ow.tenant}/sandbox/patients/{patient['id']}/emails?sort=date%2Cdesc&page=0"
    paged = list(capped(client.Emails().get(patient["id"], paginate=True, size=2), 10))
    assert [m["subject"] for m in paged] == ["Subject 0", "Subject 1", "Subject 2"]
    assert recorder.last()[1].endswith("size=2&page=1")
    via_patient = client.Patient(id=patient["id"]).Emails().get()
    assert len(via_patient) == 3

    # The local outbox got each one.
    outbox = _wait(api, "sandbox/outbox/email?to=" + patient["email"], lambda b: b["totalElements"] == 3)
    assert {m["subject"] for m in outbox["content"]} == {"Subject 0", "Subject 1", "Subject 2"}


@covers("Email.get")
def test_filters_updates_and_deletes(client, api, people):
    _, patient = people
    path = _emails(patient)
    later = "2099-01-01T00:00:00.000Z"
    r = api.post(path, json={"subject": "Scheduled", "body": "later", "scheduledAt": later})
    assert r.status_code == 201 and r.json()["status"] == "SCHEDULED", r.text
    scheduled = r.json()
    r = api.post(path, json={"subject": "Now", "body": "important stuff", "sendNow": True})
    now = r.json()

    only = api.get(path, params={"status": "SCHEDULED"}).json()
    assert [m["id"] for m in only["content"]] == [scheduled["id"]]
    search = api.get(path, params={"search": "IMPORTANT"}).json()
    assert [m["id"] for m in search["content"]] == [now["id"]]
    assert api.get(path, params={"email": patient["email"].upper()}).json()["totalElements"] == 2
    assert_error(api.get(path, params={"status": "LOST"}), 400, "INVALID_PARAMETER")

    r = api.request("PUT", f"{path}/{now['id']}", json={"starred": True})
    assert r.status_code == 200 and r.json()["starred"] is True
    assert api.get(path, params={"starred": "True"}).json()["totalElements"] == 1
    r = api.request("PUT", f"{path}/{now['id']}", json={"body": "rewritten"})
    assert assert_error(r, 400, "VALIDATION_ERROR")["details"]["field"] == "body"
    r = api.request("PUT", f"{path}/{scheduled['id']}", json={"subject": "Rescheduled"})
    assert r.status_code == 200 and r.json()["subject"] == "Rescheduled"

    assert_error(api.delete(f"{path}/{now['id']}"), 409, "EMAIL_CANNOT_BE_DELETED")
    r = api.delete(f"{path}/{scheduled['id']}")
    assert (r.status_code, r.text) == (200, "")
    with pytest.raises(WelkinHTTPError) as exc:
        client.Email(id=scheduled["id"]).get(patient["id"])
    assert exc.value.response.status_code == 404


def test_multipart_attachments_download(api, people):
    _, patient = people
    path = _emails(patient)
    pdf = b"%PDF-1.4\n\x00\xffbinary"
    r = api.post(path, data={"subject": "Files", "body": "attached", "sendNow": "true"},
                 files=[("attachmentsAsFiles", ("report.pdf", pdf, "application/pdf")),
                        ("attachmentsAsFiles", ("notes.txt", b"hello", "text/plain"))])
    assert r.status_code == 201, r.text
    e = r.json()
    assert [a["fileName"] for a in e["attachments"]] == ["report.pdf", "notes.txt"]
    r = api.get(f"{path}/{e['id']}/attachment")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/pdf"
    assert r.headers["Content-Disposition"] == 'attachment; filename="report.pdf"'
    assert r.content == pdf
    r = api.get(f"{path}/{e['id']}/attachment", params={"attachmentId": e["attachments"][1]["id"]})
    assert (r.headers["Content-Type"], r.content) == ("text/plain", b"hello")


def test_drafts(api, people):
    _, patient = people
    drafts = f"sandbox/patients/{patient['id']}/email-drafts"
    r = api.post(drafts, json={"subject": "Draft", "body": "first"})
    assert r.status_code == 201, r.text
    draft = r.json()
    assert draft["status"] == "DRAFT"
    listing = api.get(drafts).json()
    assert listing["metaInfo"]["totalElements"] == 1 and listing["metaInfo"]["lastPage"] is True
    r = api.patch(f"{drafts}/{draft['id']}", json={"body": "final"})
    assert r.status_code == 200 and r.json()["body"] == "final"
    r = api.post(f"{drafts}/{draft['id']}/send")
    assert r.status_code == 201, r.text
    email = r.json()
    assert (email["subject"], email["body"], email["status"]) == ("Draft", "final", "ACCEPTED")
    assert_error(api.get(f"{drafts}/{draft['id']}"), 404, "EMAIL_DRAFT_NOT_FOUND")
    assert api.get(f"{_emails(patient)}/{email['id']}").status_code == 200
    other = api.post(drafts, json={"subject": "Throwaway"}).json()
    assert api.delete(f"{drafts}/{other['id']}").status_code == 200
    assert api.get(drafts).json()["metaInfo"]["totalElements"] == 0


@covers("Email.get", "Emails.get")
def test_unmatched_inbound_emails_are_assigned_to_patients(client, api, people):
    _, patient = people
    r = api.post("sandbox/providers/email/inbound",
                 json={"from": patient["email"], "subject": "From the patient", "body": "hi"})
    assert r.status_code == 201 and r.json()["status"] == "DELIVERED", r.text
    assert r.json()["sender"] == patient["id"]

    stranger = f"{uniq('s')}@nowhere.org"
    r = api.post("sandbox/providers/email/inbound",
                 data={"sender": stranger, "subject": "Who am I", "body-plain": "unknown"})
    assert r.status_code == 201, r.text
    unmatched = r.json()
    assert (unmatched["status"], unmatched["sender"]) == ("UNRECOGNISED", None)
    v8 = api.get("sandbox/unrecognized-patients/emails").json()
    assert unmatched["id"] in [m["id"] for m in v8["content"]]
    docs = api.get("sandbox/unrecognized-emails", params={"status": "PENDING"}).json()
    item = next(m for m in docs["content"] if m["id"] == unmatched["id"])
    assert (item["fromEmail"], item["status"], item["patientId"]) == (stranger, "PENDING", None)

    r = api.patch(f"sandbox/unrecognized-emails/{unmatched['id']}",
                  json={"patientId": patient["id"], "status": "RESOLVED"})
    assert r.status_code == 200 and r.json()["status"] == "RESOLVED", r.text
    subjects = [m["subject"] for m in client.Emails().get(patient["id"])]
    assert set(subjects) == {"From the patient", "Who am I"}
    assert client.Email(id=unmatched["id"]).get(patient["id"])["direction"] == "IN"

    r = api.post("sandbox/providers/email/inbound", json={"from": f"{uniq('t')}@nowhere.org"})
    other = r.json()
    r = api.request("PUT", f"sandbox/unrecognized-patients/emails/{other['id']}", json={"sender": patient["id"]})
    assert r.status_code == 200 and r.json()["sender"] == patient["id"]
    assert len(client.Emails().get(patient["id"])) == 3


@covers("Emails.get")
def test_email_needs_the_email_policy(people, ro_client):
    _, patient = people
    with pytest.raises(WelkinHTTPError) as exc:
        ro_client.Emails().get(patient["id"])
    assert_error(exc.value.response, 403, "ACCESS_FOR_API_CLIENT_RESTRICTED", with_date=False)
