"""Scenario: `WorkHours`, driven through the real welkin client. Work hours
have no create method in the client, so the tests create them over raw HTTP as
the V8 reference documents it.

Expected shapes are those of the recorded Welkin responses (cassettes
test_calendar_event_create / read / update / delete / read_all,
test_schedule_read_all, test_work_hours_read_all and the work-hours recordings in
_history), written out here.
"""


import pytest
from welkin.models.calendar import WorkHours

from parity import covers
from support import WORK_HOURS_KEYS as HOURS_KEYS
from support import assert_error
from support import calendar_user as _user
from support import new_work_hours as _work_hours
from support import query_of as _query
from support import utc_at as _at


@pytest.fixture
def psm(client):
    """A fresh care-team user (US/Pacific), so schedules and searches are the test's own."""
    return _user(client)


@covers("WorkHours.get")
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


@covers("WorkHours.get")
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
