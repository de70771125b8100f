"""The emulator clock, seen through the real welkin client: after the clock jumps past
a token's hour the server refuses it and the client fetches a new one by itself."""

import requests

from support import RAW_TIMEOUT, assert_error


def _emulator(ow, action, body=None):
    r = requests.post(
        f"{ow.base}/_emulator/clock/{action}",
        json=body or {},
        headers={"Authorization": f"Bearer {ow.emulator_token}"},
        timeout=RAW_TIMEOUT,
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_client_recovers_after_clock_jumps_61_minutes(ow, client, recorder):
    client.Patients().get()  # holds a fresh token now
    before = len(recorder.calls)
    try:
        _emulator(ow, "advance", {"minutes": 61})

        patients = client.Patients().get()

        calls = recorder.calls[before:]
        assert isinstance(patients, list)
        assert calls[0][2] == 401, calls
        assert_error(recorder.responses[before], 401, "TOKEN_EXPIRED")
        assert calls[1][0:2] == ("POST", f"/{ow.tenant}/admin/api_clients/{ow.client_name}")
        assert calls[-1][2] == 200, calls
        assert len(calls) == 3, calls
    finally:
        # Later tests run on the real time again; tokens issued meanwhile stay valid.
        _emulator(ow, "reset")


def test_emulator_controls_refuse_api_client_tokens(ow, api):
    r = requests.post(
        f"{ow.base}/_emulator/clock/advance",
        json={"days": 1},
        headers={"Authorization": api.session.headers["Authorization"]},
        timeout=RAW_TIMEOUT,
    )
    assert_error(r, 401, "NOT_VALID_JSON_WEB_TOKEN")
