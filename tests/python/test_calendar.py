"""Calendar, driven through the real welkin client: `CalendarEvent` (create, get,
update, delete), `CalendarEvents` (the search), `Schedules` (psm, available and full
schedules) and `WorkHours`.

Expected shapes are those of the recorded Welkin responses (cassettes
test_calendar_event_create / read / update / delete / read_all,
test_schedule_read_all, test_work_hours_read_all and the work-hours recordings in
_history), written out here. Work hours have no create method in the client, so the
tests create them over raw HTTP as the V8 reference documents it.
"""

import datetime
import json
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from welkin.exceptions import WelkinHTTPError
from welkin.models.calendar import CalendarEvent, WorkHours

from support import TS_RE, assert_error, capped, uniq

UTC = datetime.timezone.utc

EVENT_KEYS = {
    "id", "createdBy", "createdAt", "updatedBy", "updatedAt", "externalId", "externalIdUpdatedAt",
    "eventTitle", "eventDescription", "startDateTime", "localStartDateTime", "endDateTime",
    "localEndDateTime", "allDayEvent", "duration", "eventType", "eventStatus", "eventMode",
    "eventColor", "hostId", "timezone", "additionalInfo", "participants",
}
PARTICIPANT_KEYS = {
    "id", "participantId", "participantRole", "participationStatus", "attended", "timezone",
    "firstName", "lastName", "deleted", "hasAccess", "email", "phone", "gender", "birthDate",
    "enabled",
}
HOURS_KEYS = {
    "workHoursId", "createdAt", "updatedAt", "createdBy", "updatedBy", "name", "type", "ruleType",
    "startDateTime", "endDateTime", "localStartDateTime", "localEndDateTime", "daysInfo",
}
SCHEDULE_EVENT_KEYS = {
    "id", "eventId", "eventTitle", "eventType", "eventColor", "allDayEvent", "startDateTime",
    "localStartDateTime", "endDateTime", "localEndDateTime",
}
LOCAL_RE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d$"


def _user(client, tz="US/Pacific"):
    username = uniq("cal")
    return client.User(username=username, email=f"{username}@example.com", firstName="Sam",
                       lastName="Morgan", timezone=tz).create()["id"]


@pytest.fixture
def psm(client):
    """A fresh care-team user (US/Pacific), so schedules and searches are the test's own."""
    return _user(client)


@pytest.fixture
def patient_id(client):
    return client.Patient(firstName="Cal", lastName=uniq("Endar"), gender="FEMALE").create()["id"]


def _at(year, month, day, hour=0, minute=0):
    return datetime.datetime(year, month, day, hour, minute, tzinfo=UTC)


def _event(client, psm, start, hours=1, **fields):
    return client.CalendarEvent(
        startDateTime=start, endDateTime=start + datetime.timedelta(hours=hours), hostId=psm,
        participants=fields.pop("participants", [{"participantId": psm, "participantRole": "psm"}]),
        **fields,
    ).create()


def _query(recorder, index=-1):
    return parse_qs(urlsplit(recorder.responses[index].request.url).query)


# --------------------------------------------------------------------------
# CalendarEvent: create / get / update / delete
# --------------------------------------------------------------------------

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


def test_update_event(ow, client, recorder, psm):
    event = _event(client, psm, _at(2031, 2, 1, 10), eventStatus="SCHEDULED", eventColor="green")
    recorder.clear()

    event.update(eventTitle="New event title")

    assert recorder.last() == ("PATCH", f"/{ow.tenant}/sandbox/calendar/events/{event['id']}", 200)
    assert json.loads(recorder.responses[-1].request.body) == {"eventTitle": "New event title"}
    assert event["eventTitle"] == "New event title"
    assert event["eventColor"] == "green"
    assert CalendarEvent(id=event["id"]).get()["eventTitle"] == "New event title"


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


def test_delete_future_event_is_gone(ow, client, recorder, psm):
    event = _event(client, psm, _at(2031, 4, 1, 10))
    recorder.clear()

    event.delete()

    assert recorder.last() == ("DELETE", f"/{ow.tenant}/sandbox/calendar/events/{event['id']}", 204)
    assert recorder.responses[-1].content == b""
    with pytest.raises(WelkinHTTPError) as exc:
        CalendarEvent(id=event["id"]).get()
    assert_error(exc.value.response, 404, "CALENDAR_EVENT_NOT_FOUND")


def test_delete_past_event_reads_back_cancelled(ow, client, recorder, psm):
    event = _event(client, psm, _at(2022, 6, 28, 14), eventType="APPOINTMENT",
                   eventStatus="SCHEDULED", timezone="US/Pacific")
    assert event["localStartDateTime"] == "2022-06-28T07:00:00.000-07:00"

    CalendarEvent(id=event["id"]).delete()
    kept = CalendarEvent(id=event["id"]).get()

    assert [c[2] for c in recorder.calls[-2:]] == [204, 200]
    assert kept["eventStatus"] == "CANCELLED"
    assert kept["eventType"] == "APPOINTMENT"


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


def test_unknown_event_is_404(client):
    with pytest.raises(WelkinHTTPError) as exc:
        CalendarEvent(id=str(uuid.uuid4())).get()
    assert_error(exc.value.response, 404, "CALENDAR_EVENT_NOT_FOUND")


# --------------------------------------------------------------------------
# CalendarEvents: the search
# --------------------------------------------------------------------------

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


# --------------------------------------------------------------------------
# Work hours and schedules
# --------------------------------------------------------------------------

def _work_hours(api, psm, **extra):
    body = {"psmId": psm, "createdBy": psm, "startDateTime": "2031-01-01T00:00:00.000Z",
            "endDateTime": "2031-12-31T23:59:59.000Z",
            "daysInfo": [{"day": 1, "startTime": "09:00:00", "endTime": "18:00:00"},
                         {"day": 2, "startTime": "09:00:00", "endTime": "18:00:00"}]}
    body.update(extra)
    r = api.post("sandbox/calendar/work-hours", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def test_work_hours_get(ow, client, recorder, api, psm):
    created = _work_hours(api, psm)
    assert set(created) == {"psmId", "details"}
    [detail] = created["details"]
    assert set(detail) == HOURS_KEYS
    assert (detail["type"], detail["ruleType"]) == ("WORKING_HOURS", "DEFAULT")
    assert detail["localStartDateTime"] == "2030-12-31T16:00:00.000-08:00"
    recorder.clear()

    hours = WorkHours().get(from_date=_at(2031, 1, 1), to_date=_at(2031, 12, 31), psm_ids=[psm])

    assert recorder.last() == ("GET", recorder.calls[-1][1], 200)
    assert recorder.calls[-1][1].startswith(f"/{ow.tenant}/sandbox/calendar/work-hours?")
    assert "page" not in _query(recorder)
    [row] = hours["content"] if isinstance(hours, dict) else hours
    assert row["psmId"] == psm
    assert row["details"] == created["details"]

    viewed = WorkHours().get(from_date=_at(2031, 1, 1), to_date=_at(2031, 12, 31), psm_ids=[psm],
                             timezone="UTC")
    [row] = viewed["content"] if isinstance(viewed, dict) else viewed
    assert row["details"][0]["localStartDateTime"] == "2031-01-01T00:00:00.000+00:00"
    assert _query(recorder)["viewerTimezone"] == ["UTC"]


def test_work_hours_empty(client, recorder, psm):
    empty = WorkHours().get(from_date=_at(2100, 1, 1), to_date=_at(2100, 1, 2), psm_ids=[psm])
    assert recorder.responses[-1].json() == []
    assert list(empty) == []


def test_work_hours_update_and_validation(api, psm):
    created = _work_hours(api, psm)
    wid = created["details"][0]["workHoursId"]
    r = api.request("PUT", f"sandbox/calendar/work-hours/{wid}", json={
        "psmId": psm, "updatedBy": psm, "startDateTime": "2031-01-01T00:00:00.000Z",
        "endDateTime": "2031-01-31T23:59:59.000Z",
        "daysInfo": [{"day": 1, "startTime": "10:00:00", "endTime": "19:00:00"}]})
    assert r.status_code == 200, r.text
    assert r.json()["details"][0]["daysInfo"][0]["startTime"] == "10:00:00"
    r = api.post("sandbox/calendar/work-hours", json={
        "psmId": psm, "startDateTime": "2031-01-01T00:00:00.000Z",
        "daysInfo": [{"day": 9, "startTime": "10:00:00", "endTime": "19:00:00"}]})
    assert assert_error(r, 400, "VALIDATION_ERROR")["details"]["field"] == "daysInfo[0].day"


def test_schedules_get(ow, client, recorder, api, psm, patient_id):
    _work_hours(api, psm)
    start = _at(2031, 3, 3, 20)
    event = _event(client, psm, start, eventTitle="Late call", eventType="APPOINTMENT",
                   eventColor="green",
                   participants=[{"participantId": psm, "participantRole": "psm"},
                                 {"participantId": patient_id, "participantRole": "patient"}])
    nobody = _user(client)
    recorder.clear()

    schedules = client.Schedules().get([psm, nobody], _at(2031, 3, 1), _at(2031, 3, 31),
                                       include_cancelled=True)

    assert recorder.last()[2] == 200
    assert recorder.last()[1].startswith(f"/{ow.tenant}/sandbox/calendar/psm-schedules?")
    query = _query(recorder)
    assert query["psmIds"] == [f"{psm},{nobody}"]
    assert query["includeCancelled"] == ["True"]
    assert query["page"] == ["0"]
    mine, other = schedules
    assert set(mine) == {"psmId", "workHours", "events"}
    assert dict(other) == {"psmId": nobody, "workHours": [], "events": []}
    assert set(mine["workHours"][0]) == HOURS_KEYS
    [entry] = mine["events"]
    assert set(entry) == SCHEDULE_EVENT_KEYS
    assert entry["id"] == entry["eventId"] == event["id"]
    assert entry["localStartDateTime"] == "2031-03-03T12:00:00.000-08:00"

    available = client.Schedules().get([psm], _at(2031, 3, 1), _at(2031, 3, 31), available=True)
    assert recorder.last()[1].startswith(f"/{ow.tenant}/sandbox/calendar/available-psm-schedules?")
    assert available[0]["events"][0]["participants"][1]["participantId"] == patient_id
    full = client.Schedules().get([psm], _at(2031, 3, 1), _at(2031, 3, 31), full=True)
    assert recorder.last()[1].startswith(f"/{ow.tenant}/sandbox/calendar/full-psm-schedules?")
    assert EVENT_KEYS <= set(full[0]["events"][0])


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


def test_calendar_outside_policy_is_403(ow, client, ro_client):
    with pytest.raises(WelkinHTTPError) as exc:
        ro_client.CalendarEvents().get(from_date=_at(2031, 1, 1), to_date=_at(2031, 2, 1))
    first = assert_error(exc.value.response, 403, "ACCESS_FOR_API_CLIENT_RESTRICTED", with_date=False)
    assert first["details"]["requestURI"] == f"/{ow.tenant}/sandbox/calendar/events"
