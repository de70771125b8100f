"""Scenario: `Schedules` (psm, available and full schedules; items are
`welkin.models.calendar.Schedule`), driven through the real welkin client.

Expected shapes are those of the recorded Welkin responses (cassettes
test_calendar_event_create / read / update / delete / read_all,
test_schedule_read_all, test_work_hours_read_all and the work-hours recordings in
_history), written out here.
"""


import pytest

from parity import covers
from support import CALENDAR_EVENT_KEYS as EVENT_KEYS
from support import WORK_HOURS_KEYS as HOURS_KEYS
from support import calendar_user as _user
from support import new_calendar_event as _event
from support import new_work_hours as _work_hours
from support import query_of as _query
from support import uniq
from support import utc_at as _at


SCHEDULE_EVENT_KEYS = {
    "id", "eventId", "eventTitle", "eventType", "eventColor", "allDayEvent", "startDateTime",
    "localStartDateTime", "endDateTime", "localEndDateTime",
}


@pytest.fixture
def psm(client):
    """A fresh care-team user (US/Pacific), so schedules and searches are the test's own."""
    return _user(client)


@pytest.fixture
def patient_id(client):
    return client.Patient(firstName="Cal", lastName=uniq("Endar"), gender="FEMALE").create()["id"]


@covers("Schedule.<instance>", "Schedules.get")
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
