"""Scenario: `CalendarEvent` (create, get, update, delete) and `CalendarEvents`
(the search), driven through the real welkin client. Schedules and work hours
have their own scenarios (test_schedules.py, test_work_hours.py).

Expected shapes are those of the recorded Welkin responses (cassettes
test_calendar_event_create / read / update / delete / read_all,
test_schedule_read_all, test_work_hours_read_all and the work-hours recordings in
_history), written out here.
"""

import datetime
import json
import uuid

import pytest
from welkin.exceptions import WelkinHTTPError
from welkin.models.calendar import CalendarEvent

from parity import covers
from support import CALENDAR_EVENT_KEYS as EVENT_KEYS
from support import TS_RE, assert_error, capped, uniq
from support import calendar_user as _user
from support import new_calendar_event as _event
from support import new_work_hours as _work_hours
from support import query_of as _query
from support import utc_at as _at


PARTICIPANT_KEYS = {
    "id", "participantId", "participantRole", "participationStatus", "attended", "timezone",
    "firstName", "lastName", "deleted", "hasAccess", "email", "phone", "gender", "birthDate",
    "enabled",
}


@pytest.fixture
def psm(client):
    """A fresh care-team user (US/Pacific), so schedules and searches are the test's own."""
    return _user(client)


@pytest.fixture
def patient_id(client):
    return client.Patient(firstName="Cal", lastName=uniq("Endar"), gender="FEMALE").create()["id"]


# --------------------------------------------------------------------------
# CalendarEvent: create / get / update / delete
# --------------------------------------------------------------------------

@covers("CalendarEvent.create")
def test_create_minimal_event_shape(ow, client, recorder, psm):
    start = _at(2031, 6, 30, 17, 59)
    event = _event(client, psm, start)

    assert recorder.last("POST") == ("POST", f"/{ow.tenant}/sandbox/calendar/events", 201)
    assert set(event) == EVENT_KEYS
    for key in ("eventTitle", "eventDescription", "eventType", "eventStatus", "eventMode",
                "eventColor", "externalId", "timezone", "additionalInfo"):
        assert event[key] is None, key
    assert event["duration"] == 3600
    assert event["allDayEvent"] is False
    assert event["startDateTime"] == "2031-06-30T17:59:00.000Z"
    assert event["localStartDateTime"] == "2031-06-30T17:59:00.000+00:00"
    assert event["hostId"] == psm
    for key in ("createdAt", "updatedAt", "externalIdUpdatedAt"):
        assert TS_RE.match(event[key]), (key, event[key])
    [p] = event["participants"]
    assert set(p) == PARTICIPANT_KEYS
    assert (p["participantId"], p["participantRole"], p["participationStatus"]) == (psm, "psm", "")
    assert (p["attended"], p["deleted"], p["hasAccess"]) == (False, False, False)
    assert (p["firstName"], p["lastName"], p["timezone"]) == ("Sam", "Morgan", "US/Pacific")
    uuid.UUID(event["id"])


@covers("CalendarEvent.create", "CalendarEvent.get")
def test_get_event(ow, client, recorder, psm, patient_id):
    created = _event(
        client, psm, _at(2031, 1, 1), hours=24 * 31, eventTitle="Weekly Appointment",
        eventDescription="", eventType="APPOINTMENT", eventStatus="SCHEDULED", eventMode="IN-PERSON",
        eventColor="green", timezone="Europe/Moscow",
        additionalInfo={"location": "", "remarks": "", "attachment": ""},
        participants=[{"participantId": psm, "participantRole": "psm", "attended": False},
                      {"participantId": patient_id, "participantRole": "patient", "attended": False}],
    )
    recorder.clear()

    event = CalendarEvent(id=created["id"]).get()

    assert recorder.last() == ("GET", f"/{ow.tenant}/sandbox/calendar/events/{created['id']}", 200)
    assert dict(event) == dict(created)
    assert event["localStartDateTime"] == "2031-01-01T03:00:00.000+03:00"
    assert event["duration"] == 31 * 24 * 3600
    assert event["eventDescription"] == ""
    patient = event["participants"][1]
    assert (patient["participantRole"], patient["gender"], patient["enabled"]) == ("patient", "FEMALE", None)


@covers("CalendarEvent.create", "CalendarEvent.get", "CalendarEvent.update")
def test_update_event(ow, client, recorder, psm):
    event = _event(client, psm, _at(2031, 2, 1, 10), eventStatus="SCHEDULED", eventColor="green")
    recorder.clear()

    event.update(eventTitle="New event title")

    assert recorder.last() == ("PATCH", f"/{ow.tenant}/sandbox/calendar/events/{event['id']}", 200)
    assert json.loads(recorder.responses[-1].request.body) == {"eventTitle": "New event title"}
    assert event["eventTitle"] == "New event title"
    assert event["eventColor"] == "green"
    assert CalendarEvent(id=event["id"]).get()["eventTitle"] == "New event title"


@covers("CalendarEvent.create", "CalendarEvent.update", "CalendarEvents.get")
def test_cancel_event_by_update(client, psm):
    start = _at(2031, 3, 1, 10)
    event = _event(client, psm, start)
    event.update(eventStatus="CANCELLED")
    assert event["eventStatus"] == "CANCELLED"
    window = dict(from_date=start - datetime.timedelta(days=1), to_date=start + datetime.timedelta(days=1),
                  participant_ids=[psm])
    assert [e["id"] for e in client.CalendarEvents().get(**window)] == []
    found = client.CalendarEvents().get(include_cancelled=True, **window)
    assert [e["id"] for e in found] == [event["id"]]


@covers("CalendarEvent.create", "CalendarEvent.delete", "CalendarEvent.get")
def test_delete_future_event_is_gone(ow, client, recorder, psm):
    event = _event(client, psm, _at(2031, 4, 1, 10))
    recorder.clear()

    event.delete()

    assert recorder.last() == ("DELETE", f"/{ow.tenant}/sandbox/calendar/events/{event['id']}", 204)
    assert recorder.responses[-1].content == b""
    with pytest.raises(WelkinHTTPError) as exc:
        CalendarEvent(id=event["id"]).get()
    assert_error(exc.value.response, 404, "CALENDAR_EVENT_NOT_FOUND")


@covers("CalendarEvent.create", "CalendarEvent.delete", "CalendarEvent.get")
def test_delete_past_event_reads_back_cancelled(ow, client, recorder, psm):
    event = _event(client, psm, _at(2022, 6, 28, 14), eventType="APPOINTMENT",
                   eventStatus="SCHEDULED", timezone="US/Pacific")
    assert event["localStartDateTime"] == "2022-06-28T07:00:00.000-07:00"

    CalendarEvent(id=event["id"]).delete()
    kept = CalendarEvent(id=event["id"]).get()

    assert [c[2] for c in recorder.calls[-2:]] == [204, 200]
    assert kept["eventStatus"] == "CANCELLED"
    assert kept["eventType"] == "APPOINTMENT"


@covers("CalendarEvent.create", "CalendarEvents.get")
def test_invalid_event_is_refused_and_not_written(client, psm):
    start = _at(2031, 5, 1, 10)
    with pytest.raises(WelkinHTTPError) as exc:
        client.CalendarEvent(startDateTime=start, endDateTime=start - datetime.timedelta(hours=1),
                             hostId=psm, participants=[{"participantId": psm, "participantRole": "psm"}]).create()
    first = assert_error(exc.value.response, 400, "VALIDATION_ERROR")
    assert first["details"]["field"] == "endDateTime"
    with pytest.raises(WelkinHTTPError) as exc:
        _event(client, psm, start, participants=[{"participantId": psm, "participantRole": "psm"},
                                                 {"participantId": str(uuid.uuid4()), "participantRole": "patient"}])
    assert assert_error(exc.value.response, 400)["details"]["field"] == "participants[1].participantId"
    window = dict(from_date=start - datetime.timedelta(days=1), to_date=start + datetime.timedelta(days=1),
                  participant_ids=[psm], include_cancelled=True)
    assert list(client.CalendarEvents().get(**window)) == []


@covers("CalendarEvent.get")
def test_unknown_event_is_404(client):
    with pytest.raises(WelkinHTTPError) as exc:
        CalendarEvent(id=str(uuid.uuid4())).get()
    assert_error(exc.value.response, 404, "CALENDAR_EVENT_NOT_FOUND")


# --------------------------------------------------------------------------
# CalendarEvents: the search
# --------------------------------------------------------------------------

@covers("CalendarEvent.create", "CalendarEvents.get")
def test_find_events_params_and_page(ow, client, recorder, api, psm, patient_id):
    base = _at(2031, 7, 1, 9)
    first = _event(client, psm, base + datetime.timedelta(days=1), eventType="LEAVE")
    second = _event(client, psm, base, eventType="APPOINTMENT",
                    participants=[{"participantId": psm, "participantRole": "psm"},
                                  {"participantId": patient_id, "participantRole": "patient"}])
    recorder.clear()

    found = client.CalendarEvents().get(
        from_date=base - datetime.timedelta(days=1), to_date=base + datetime.timedelta(days=3),
        participant_ids=[psm], include_cancelled=True, viewer_timezone="US/Pacific",
    )

    assert [e["id"] for e in found] == [second["id"], first["id"]], "sorted by start"
    assert all(isinstance(e, CalendarEvent) for e in found)
    assert found[0]["localStartDateTime"] == "2031-07-01T02:00:00.000-07:00"
    query = _query(recorder)
    assert query["participantIds"] == [psm]
    assert query["includeCancelled"] == ["True"]
    assert query["page"] == ["0"]

    only_patient = client.CalendarEvents().get(
        from_date=base - datetime.timedelta(days=1), to_date=base + datetime.timedelta(days=3),
        participant_ids=[patient_id])
    assert [e["id"] for e in only_patient] == [second["id"]]
    leave = client.CalendarEvents().get(
        from_date=base - datetime.timedelta(days=1), to_date=base + datetime.timedelta(days=3),
        participant_ids=[psm], event_type="LEAVE", sort="startDateTime,desc",
        include_encounter_info=True, exclude_assigned_to_encounter_events=False)
    assert [e["id"] for e in leave] == [first["id"]]

    raw = api.get("sandbox/calendar/events", params={
        "from": "2031-06-01T00:00:00.000Z", "to": "2031-08-01T00:00:00.000Z", "participantIds": psm,
        "size": 1})
    assert raw.status_code == 200
    page = raw.json()
    assert page["sort"] == {"sorted": True, "unsorted": False, "empty": False}
    assert (page["totalElements"], page["totalPages"], page["last"], page["number"]) == (2, 2, False, 0)


@covers("CalendarEvent.create", "CalendarEvents.get")
def test_paginate_all_events(client, psm):
    base = _at(2031, 9, 1, 9)
    made = [_event(client, psm, base + datetime.timedelta(hours=2 * i))["id"] for i in range(5)]
    events = capped(client.CalendarEvents().get(
        from_date=base, to_date=base + datetime.timedelta(days=1), participant_ids=[psm],
        paginate=True, size=2), 50)
    assert [e["id"] for e in events] == made


def test_bad_search_parameter_is_400(api):
    r = api.get("sandbox/calendar/events", params={"eventType": "PARTY"})
    assert assert_error(r, 400, "INVALID_PARAMETER")["details"]["parameter"] == "eventType"


def test_event_summary(api, psm):
    _work_hours(api, psm)
    r = api.get("sandbox/calendar/psm-event-summary", params={
        "from": "2031-01-06T00:00:00.000Z", "to": "2031-01-13T00:00:00.000Z", "psmIds": psm})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"startDateTime", "endDateTime", "summary"}
    [row] = body["summary"]
    assert row["psmId"] == psm
    assert row["totalWorkingHours"] == "18.0 hours"
    assert (row["totalEventHours"], row["occupancy"], row["totalCreatedEvents"]) == ("0.0 hours", "0.0%", 0)


# --------------------------------------------------------------------------
# isolation and policy
# --------------------------------------------------------------------------

@covers("CalendarEvent.create", "CalendarEvent.get")
def test_instances_are_isolated(ow, client, live_client, psm):
    import support

    support.activate(client)
    event = _event(client, psm, _at(2031, 10, 1, 10))
    support.activate(live_client)
    with pytest.raises(WelkinHTTPError) as exc:
        CalendarEvent(id=event["id"]).get()
    assert_error(exc.value.response, 404, "CALENDAR_EVENT_NOT_FOUND")
    support.activate(client)
    assert CalendarEvent(id=event["id"]).get()["id"] == event["id"]


@covers("CalendarEvents.get")
def test_calendar_outside_policy_is_403(ow, client, ro_client):
    with pytest.raises(WelkinHTTPError) as exc:
        ro_client.CalendarEvents().get(from_date=_at(2031, 1, 1), to_date=_at(2031, 2, 1))
    first = assert_error(exc.value.response, 403, "ACCESS_FOR_API_CLIENT_RESTRICTED", with_date=False)
    assert first["details"]["requestURI"] == f"/{ow.tenant}/sandbox/calendar/events"
