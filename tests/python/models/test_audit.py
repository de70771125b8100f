"""Scenario: the audit models `DataAudits` / `DataAudit` and `WebhookAudits` /
`WebhookAudit`, driven through the real welkin client: they page through the
data and webhook audits to the end, and a webhook delivery (to a local
receiver, on a tenant of its own: conftest.webhook_tenant) reads back as a
`WebhookAudit`."""

import time

from welkin.models.audit import WebhookAudit

import support
from parity import covers


@covers("DataAudit.<instance>", "DataAudits.get")
def test_data_audits_page_through_every_row(ow, client):
    token = support.raw_token(ow, ow.client_name, ow.client_secret)
    for i in range(25):
        client.Patient(firstName=f"Audit{i}", lastName="Trail").create()
    # The client sends `page` only; its own page size is the server's default (20).
    first = support.requests.get(ow.url("admin/audit-data"), headers={"Authorization": f"Bearer {token}"}, params={"page": 0}, timeout=10).json()
    total = first["metaInfo"]["totalElements"]
    assert total >= 25
    assert first["metaInfo"]["lastPage"] is False
    rows = list(client.DataAudits().get(paginate=True))
    assert len(rows) == total, "every row, each once"
    assert len({r.eventId for r in rows}) == total
    created = [r for r in rows if r.eventSubtype == "PATIENT_CREATED" and r.record["lastName"] == "Trail"]
    assert len(created) == 25
    assert all(r.subjectFullName == f"API_CLIENT:{ow.client_name}" for r in created)


@covers("DataAudit.<instance>", "DataAudits.get")
def test_data_audits_filter_by_entity_and_patient(ow, client):
    p = client.Patient(firstName="Only", lastName="Me").create()
    p.update(firstName="Still")
    rows = list(client.DataAudits().get(params={"patientId": p.id}, paginate=True))
    assert [r.eventSubtype for r in rows] == ["PATIENT_UPDATED", "PATIENT_CREATED"]
    assert all(r.instance == "sandbox" for r in rows)


@covers("WebhookAudits.get")
def test_webhook_audits_page_to_the_end(ow, client):
    rows = list(client.WebhookAudits().get(paginate=True))
    token = support.raw_token(ow, ow.client_name, ow.client_secret)
    raw = support.requests.get(ow.url("admin/audit-webhook"), headers={"Authorization": f"Bearer {token}"}, params={"page": 0}, timeout=10).json()
    assert set(raw) == {"data", "metaInfo"}
    assert raw["metaInfo"]["lastPage"] is True
    assert len(rows) == raw["metaInfo"]["totalElements"]


@covers("WebhookAudits.get", "WebhookAudit.<instance>")
def test_webhook_audits_show_each_delivery(client, webhook_tenant):
    env, receiver = webhook_tenant
    hooked = support.make_client(env, env.client_name, env.client_secret, "sandbox")
    try:
        patient = hooked.Patient(firstName="Web", lastName=support.uniq("Hook")).create()
        deadline = time.monotonic() + 30
        rows = []
        while not rows and time.monotonic() < deadline:
            rows = list(hooked.WebhookAudits().get(params={"patientId": patient.id}, paginate=True))
            if not rows:
                time.sleep(0.1)
        assert len(rows) == 1, rows
        row = rows[0]
        assert isinstance(row, WebhookAudit)
        assert (row.status, row.eventSubtype, row.instance, row.patientId) == (
            "DELIVERED", "PATIENT_CREATED", "sandbox", patient.id), dict(row)
        assert row.response == "thanks"
        assert support.TS_RE.match(row.sentAt), row.sentAt
        assert any(body.get("patientId") == patient.id for body in receiver.received)
        # Only this tenant's deliveries: the session tenant has no webhooks.
        support.activate(client)
        assert list(client.WebhookAudits().get(params={"patientId": patient.id},
                                               paginate=True)) == []
    finally:
        support.activate(client)
