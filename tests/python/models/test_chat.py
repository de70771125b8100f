"""Chat, driven through the real welkin client: `Chat` (create = POST chat/inbound),
`Chats` (the conversation) and `SearchChats` (the search), with the meta-token
iterator walking several pages.

Expected shapes are those of the recorded Welkin responses (cassettes
test_create_chat, test_read_chat and test_search_chat), written out here. The client
has no method for care-team messages; the tests send them over raw HTTP with the
DOCS route `POST {i}/patients/{pid}/chat/messages`.
"""

import base64
import json
import re
import uuid
from urllib.parse import parse_qs, urlsplit

import pytest
from welkin.exceptions import WelkinHTTPError
from welkin.models.chat import Chat, ChatSearchResult

import support
from parity import covers
from support import TS_RE, assert_error, capped, uniq

MESSAGE_KEYS = {"sender", "message", "externalId", "createdAt"}
SENDER_KEYS = {"clientType", "id", "titleName", "patientFullName"}
META_KEYS = {"nextPageToken", "prevPageToken", "pageSize", "found"}
EXTERNAL_ID_RE = re.compile(r"^IM[0-9a-f]{32}$")


@pytest.fixture
def patient(client):
    return client.Patient(firstName="Testy", lastName=uniq("McTesterson")).create()


@pytest.fixture
def coach(client):
    username = uniq("coach")
    return client.User(username=username, email=f"{username}@example.com",
                       firstName="Sam", lastName="Morgan").create()


def _team_says(api, patient_id, text, sender_id=None):
    body = {"body": text}
    if sender_id:
        body["senderId"] = sender_id
    r = api.post(f"sandbox/patients/{patient_id}/chat/messages", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _token(token):
    return json.loads(base64.b64decode(token))


def _query(call):
    return parse_qs(urlsplit(call[1]).query)


@covers("Chat.create")
def test_chat_create_answers_200_with_the_recorded_message(ow, client, recorder, patient):
    chat = client.Chat(message="Foo Baz.").create(patient.id)
    assert isinstance(chat, Chat)
    assert recorder.last() == ("POST", f"/{ow.tenant}/sandbox/patients/{patient.id}/chat/inbound", 200)
    assert json.loads(recorder.responses[-1].request.body) == {"message": "Foo Baz."}
    assert set(chat) == MESSAGE_KEYS
    assert chat["sender"] == {"clientType": "PATIENT", "id": patient.id, "titleName": None,
                              "patientFullName": f"Testy {patient['lastName']}"}
    assert chat["message"] == "Foo Baz."
    assert EXTERNAL_ID_RE.match(chat["externalId"])
    assert TS_RE.match(chat["createdAt"]) and chat["createdAt"].endswith(".000Z")
    assert str(chat) == "PATIENT Foo Baz."


@covers("Chat.create", "Chats.get")
def test_chats_get_reads_the_conversation_newest_first(ow, client, api, recorder, patient, coach):
    client.Chat(message="Test response from patient, sent via API").create(patient.id)
    _team_says(api, patient.id, "This is a test. How does it look?", coach["id"])
    client.Chat(message="THis is a new test message! 12345").create(patient.id)

    recorder.clear()
    chats = client.Chats().get(patient.id)
    method, path, status = recorder.last()
    assert (method, urlsplit(path).path, status) == (
        "GET", f"/{ow.tenant}/sandbox/patients/{patient.id}/chat", 200)
    assert _query(recorder.last()) == {"includeArchived": ["False"], "pageSize": ["20"]}
    body = recorder.responses[-1].json()
    assert set(body) == {"meta", "content"}
    assert body["meta"] == {"nextPageToken": None, "prevPageToken": None, "pageSize": 20, "found": True}

    assert [c["message"] for c in chats] == [
        "THis is a new test message! 12345",
        "This is a test. How does it look?",
        "Test response from patient, sent via API",
    ]
    assert all(isinstance(c, Chat) and set(c) == MESSAGE_KEYS for c in chats)
    assert all(set(c["sender"]) == SENDER_KEYS for c in chats)
    assert chats[1]["sender"] == {"clientType": "USER", "id": coach["id"], "titleName": "Sam Morgan",
                                  "patientFullName": None}
    assert chats[0]["sender"]["patientFullName"] is None
    assert [str(c) for c in chats][:2] == ["PATIENT THis is a new test message! 12345",
                                           "USER This is a test. How does it look?"]

    # include_archived=True is sent as True and accepted (nothing is archived).
    assert len(client.Chats().get(patient.id, include_archived=True)) == 3
    assert _query(recorder.last())["includeArchived"] == ["True"]


@covers("Chat.create", "Chats.get")
def test_chats_paginate_over_several_pages_with_the_token_alone(ow, client, api, recorder, patient):
    written = []
    for i in range(7):
        text = f"page test {i}"
        if i % 2:
            _team_says(api, patient.id, text)
        else:
            client.Chat(message=text).create(patient.id)
        written.append(text)

    recorder.clear()
    walked = list(capped(client.Chats().get(patient.id, paginate=True, size=3), 50))
    assert [c["message"] for c in walked] == list(reversed(written))
    gets = [c for c in recorder.calls if c[0] == "GET"]
    assert len(gets) == 3, gets
    assert all(status == 200 for _, _, status in gets)
    first = _query(gets[0])
    assert (first["pageSize"], first["includeArchived"]) == (["3"], ["False"])
    for later in gets[1:]:
        assert set(_query(later)) == {"pageToken"}, later
        token = _token(_query(later)["pageToken"][0])
        assert (token["type"], token["pageSize"], token["before"]) == ("LOCAL_FIND", 3, True)
        assert TS_RE.match(token["borderDate"])
    last = recorder.responses[-1].json()["meta"]
    assert set(last) == META_KEYS and last["nextPageToken"] is None
    assert last["prevPageToken"] is not None

    # Without paginate the collection stops after `size` items.
    assert [c["message"] for c in client.Chats().get(patient.id, size=2)] == list(reversed(written))[:2]


@covers("Chat.create", "ChatSearchResult.<instance>", "SearchChats.get")
def test_search_chats_finds_messages_with_their_tokens(ow, client, api, recorder, patient, coach):
    client.Chat(message="Test response from patient, sent via API").create(patient.id)
    client.Chat(message="unrelated").create(patient.id)
    _team_says(api, patient.id, "This is a test. How does it look?", coach["id"])
    client.Chat(message="THis is a new test message! 12345").create(patient.id)

    recorder.clear()
    found = client.SearchChats().get(patient.id, query="Test")
    method, path, status = recorder.last()
    assert (method, urlsplit(path).path, status) == (
        "GET", f"/{ow.tenant}/sandbox/patients/{patient.id}/chat/search", 200)
    assert _query(recorder.last()) == {"query": ["Test"], "contentPageSize": ["20"],
                                       "includeArchived": ["False"], "pageSize": ["20"]}
    assert recorder.responses[-1].json()["meta"] == {
        "nextPageToken": None, "prevPageToken": None, "pageSize": 20, "found": True}
    assert [h["message"]["message"] for h in found] == [
        "THis is a new test message! 12345",
        "This is a test. How does it look?",
        "Test response from patient, sent via API",
    ]
    for hit in found:
        assert isinstance(hit, ChatSearchResult)
        assert set(hit) == {"meta", "message"}
        assert set(hit["meta"]) == {"nextPageToken", "prevPageToken"}
        inner = _token(hit["meta"]["nextPageToken"])
        assert (inner["type"], inner["pageSize"], inner["before"]) == ("LOCAL_FIND", 20, True)
        assert inner["borderDate"] == hit["message"]["createdAt"]
        assert _token(hit["meta"]["prevPageToken"])["before"] is False
        assert TS_RE.match(hit["message"]["createdAt"])
    assert found[1]["message"]["receiver"] == {"clientType": "PATIENT", "id": patient.id,
                                               "titleName": None, "patientFullName": None}
    assert found[1]["message"]["sender"]["titleName"] == "Sam Morgan"
    assert "receiver" not in found[0]["message"]

    # A hit's token loads the conversation around it.
    r = api.get(f"sandbox/patients/{patient.id}/chat",
                params={"pageToken": found[1]["meta"]["nextPageToken"]})
    assert r.status_code == 200
    assert [m["message"] for m in r.json()["content"]] == [
        "unrelated", "Test response from patient, sent via API"]

    # Several pages of hits, with a small content page size.
    recorder.clear()
    walked = list(capped(client.SearchChats().get(
        patient.id, query="TEST", content_page_size=1, paginate=True, size=1), 50))
    assert [h["message"]["message"] for h in walked] == [h["message"]["message"] for h in found]
    gets = [c for c in recorder.calls if c[0] == "GET"]
    assert len(gets) == 3, gets
    assert _query(gets[0])["contentPageSize"] == ["1"]
    search_token = _token(_query(gets[1])["pageToken"][0])
    assert (search_token["type"], search_token["query"], search_token["pageSize"]) == ("LOCAL_SEARCH", "TEST", 1)
    assert _token(walked[0]["meta"]["nextPageToken"])["pageSize"] == 1

    assert len(client.SearchChats().get(patient.id, query="zebra")) == 0
    assert recorder.responses[-1].json()["meta"]["found"] is False


@covers("Chat.create", "Chats.get", "SearchChats.get")
def test_chat_errors(ow, client, patient):
    with pytest.raises(WelkinHTTPError) as exc:
        client.Chat(message="").create(patient.id)
    first = assert_error(exc.value.response, 400, "VALIDATION_ERROR")
    assert first["details"]["field"] == "message"
    assert len(client.Chats().get(patient.id)) == 0

    missing = str(uuid.uuid4())
    for call in (lambda: client.Chat(message="x").create(missing),
                 lambda: client.Chats().get(missing),
                 lambda: client.SearchChats().get(missing, query="x")):
        with pytest.raises(WelkinHTTPError) as exc:
            call()
        assert_error(exc.value.response, 404, "PATIENT_NOT_FOUND")


def test_archive_and_restore_are_restricted(ow, api, patient):
    for path in (f"sandbox/patients/{patient.id}/chat/archive?archiveDate=2020-10-05T10:51:41.000Z",
                 f"sandbox/patients/{patient.id}/chat/restore",
                 f"sandbox/patient/{patient.id}/chat/restore"):
        first = assert_error(api.post(path), 403, "ACCESS_FOR_API_CLIENT_RESTRICTED", with_date=False)
        assert set(first["details"]) == {"clientId", "clientName", "clientType", "organizationName",
                                         "requestURI"}


@covers("Chat.create", "Chats.get", "SearchChats.get")
def test_chat_needs_the_chat_policy(ow, client, ro_client):
    support.activate(client)
    pid = client.Patient(firstName="No", lastName=uniq("Access")).create().id
    support.activate(ro_client)
    for call in (lambda: ro_client.Chat(message="x").create(pid),
                 lambda: ro_client.Chats().get(pid),
                 lambda: ro_client.SearchChats().get(pid, query="x")):
        with pytest.raises(WelkinHTTPError) as exc:
            call()
        assert_error(exc.value.response, 403, "ACCESS_FOR_API_CLIENT_RESTRICTED", with_date=False)
