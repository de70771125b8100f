"""Documents, driven through the real welkin client (`DocumentSummary`,
`DocumentSummaries`, `DocumentSummaryFile`, `DocumentSummaryFiles`), plus the
document-type record routes the client has no model for (raw requests).

The designer fixture has one document type, `doc-type-others` {notes: text}.
Expected shapes are those of the recorded Welkin responses (cassettes
test_document_summary_create / _get / _delete / _file_get and
test_document_summaries_get_patient_id), written out here.
"""

import io
import json
from urllib.parse import parse_qs, urlsplit

import pytest
from welkin.exceptions import WelkinHTTPError

import support
from parity import covers
from support import TS_RE, assert_error, capped, uniq

SUMMARY_CDT = "_document_summary"
RECORD_KEYS = {"id", "patientId", "cdtId", "version", "jsonBody", "cdtName"}
BODY_KEYS = {
    "id", "created_at", "created_by", "created_by_name", "updated_at", "updated_by",
    "updated_by_name", "source_type", "source_name", "source_id", "external_id",
    "external_guid", "type", "files",
}
FILE_KEYS = {"id", "originalName", "size", "contentType", "storageKey"}

PNG = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89"
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
# A JPEG header, then every byte value: any alteration on the way would show.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01" + bytes(range(256)) * 20


@pytest.fixture
def patient_id(client, api, ow):
    """A fresh patient; its summaries (and so their stored files) are deleted after the test."""
    pid = client.Patient(firstName="Doc", lastName=uniq("Files")).create()["id"]
    yield pid
    base = f"sandbox/patients/{pid}/document-summary"
    for item in api.get(f"{base}?size=1000").json()["data"]["content"]:
        api.delete(f"{base}/{item['id']}")


def _summary(client, patient_id):
    return client.DocumentSummary(type="doc-type-others").create(patient_id)


def _files(*parts):
    return [("files", (name, io.BytesIO(data), mime)) for name, data, mime in parts]


def _path(ow, patient_id, *rest):
    return "/".join([f"/{ow.tenant}/sandbox/patients/{patient_id}/document-summary", *rest])


@covers("DocumentSummary.create")
def test_create_summary_shape(ow, client, recorder, patient_id):
    summary = _summary(client, patient_id)
    assert recorder.last() == ("POST", _path(ow, patient_id), 201)
    assert json.loads(recorder.responses[-1].request.body) == {"type": "doc-type-others"}
    body = recorder.responses[-1].json()
    assert set(body) == RECORD_KEYS
    assert body["cdtName"] == SUMMARY_CDT
    assert body["patientId"] == patient_id
    assert isinstance(body["version"], int)
    jb = body["jsonBody"]
    assert set(jb) == BODY_KEYS
    assert jb["type"] == "doc-type-others"
    assert jb["files"] is None
    assert jb["id"] == body["id"] == summary["id"]
    assert jb["created_by_name"] == f"API_CLIENT:{ow.client_name}"
    assert TS_RE.match(jb["created_at"]) and jb["created_at"] == jb["updated_at"]
    for key in ("source_type", "source_id", "source_name", "external_id", "external_guid"):
        assert jb[key] is None, key


@covers("DocumentSummary.create", "DocumentSummary.get")
def test_get_summary(ow, client, recorder, patient_id):
    created = _summary(client, patient_id)
    created_body = recorder.responses[-1].json()
    got = client.DocumentSummary(id=created["id"]).get(patient_id)
    assert recorder.last() == ("GET", _path(ow, patient_id, created["id"]), 200)
    assert recorder.responses[-1].json() == created_body
    assert got["jsonBody"]["type"] == "doc-type-others"


@covers("DocumentSummaries.get", "DocumentSummary.create")
def test_summary_through_the_patient(ow, client, patient_id):
    patient = client.Patient(id=patient_id).get()
    created = patient.DocumentSummary(type="doc-type-others").create()
    assert created["patientId"] == patient_id
    listed = patient.DocumentSummaries().get()
    assert [s["id"] for s in listed] == [created["id"]]


@covers("DocumentSummaries.get", "DocumentSummary.create")
def test_list_summaries(ow, client, recorder, patient_id):
    ids = [_summary(client, patient_id)["id"] for _ in range(3)]
    recorder.clear()
    listed = client.DocumentSummaries().get(patient_id)
    assert [s["id"] for s in listed] == ids
    assert all(type(s).__name__ == "DocumentSummary" for s in listed)
    method, path, status = recorder.last()
    assert (method, urlsplit(path).path, status) == ("GET", _path(ow, patient_id), 200)
    assert parse_qs(urlsplit(path).query) == {"page": ["0"]}
    page = recorder.responses[-1].json()
    assert set(page) == {"name", "data"}
    assert page["name"] == SUMMARY_CDT
    data = page["data"]
    assert data["last"] is True and data["number"] == 0 and data["totalElements"] == 3
    assert data["pageable"]["pageNumber"] == 0

    # Paging walks every page and stops on `last`.
    recorder.clear()
    walked = list(capped(client.DocumentSummaries().get(patient_id, size=2, paginate=True), 10))
    assert [s["id"] for s in walked] == ids
    pages = [parse_qs(urlsplit(p).query)["page"] for _, p, _ in recorder.calls]
    assert pages == [["0"], ["1"]]


@covers(
    "DocumentSummary.create",
    "DocumentSummary.get",
    "DocumentSummaryFile.get",
    "DocumentSummaryFiles.create",
)
def test_upload_then_download_byte_for_byte(ow, client, recorder, patient_id):
    summary = _summary(client, patient_id)
    recorder.clear()
    files = client.DocumentSummaryFiles().create(
        patient_id, summary["id"],
        files=_files(("photo.jpg", JPEG, "image/jpeg"), ("scan.png", PNG, "image/png")),
    )
    method, path, status = recorder.last()
    assert (method, urlsplit(path).path, status) == ("POST", _path(ow, patient_id, summary["id"], "files"), 201)
    assert parse_qs(urlsplit(path).query) == {"page": ["0"]}, "the client sends files through its paginator"
    sent = recorder.responses[-1].request
    assert sent.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    answered = recorder.responses[-1].json()
    assert isinstance(answered, list) and len(answered) == 2
    assert all(set(f) == FILE_KEYS for f in answered)
    assert [type(f).__name__ for f in files] == ["DocumentSummaryFile"] * 2
    assert [(f["originalName"], f["contentType"], f["size"]) for f in files] == [
        ("photo.jpg", "image/jpeg", len(JPEG)), ("scan.png", "image/png", len(PNG))]
    assert files[0]["storageKey"].startswith(f"{ow.tenant}/sandbox/patients/{patient_id}/documents/")

    for f, data, ctype in ((files[0], JPEG, "image/jpeg"), (files[1], PNG, "image/png")):
        got = client.DocumentSummaryFile(id=f["id"]).get(patient_id, summary["id"])
        assert isinstance(got, io.BytesIO)
        assert got.getvalue() == data
        assert recorder.last() == ("GET", _path(ow, patient_id, summary["id"], "files", f["id"]), 200)
        assert recorder.responses[-1].headers["Content-Type"] == ctype

    # The summary lists them, in the recorded shape.
    got = client.DocumentSummary(id=summary["id"]).get(patient_id)
    assert [f["id"] for f in got["jsonBody"]["files"]] == [f["id"] for f in files]
    assert all(set(f) == FILE_KEYS for f in got["jsonBody"]["files"])


@covers("DocumentSummary.create", "DocumentSummaryFile.get", "DocumentSummaryFiles.create")
def test_content_not_name_decides_the_type(ow, client, recorder, patient_id):
    summary = _summary(client, patient_id)
    files = client.DocumentSummaryFiles().create(
        patient_id, summary["id"], files=_files(("really-a.png", PDF, "image/png")))
    assert files[0]["contentType"] == "application/pdf"
    assert files[0]["originalName"] == "really-a.png"
    got = client.DocumentSummaryFile(id=files[0]["id"]).get(patient_id, summary["id"])
    assert got.getvalue() == PDF
    assert recorder.responses[-1].headers["Content-Type"] == "application/pdf"


@covers("DocumentSummary.create", "DocumentSummary.get", "DocumentSummaryFiles.create")
def test_other_content_is_refused_with_nothing_stored(ow, client, patient_id):
    summary = _summary(client, patient_id)
    for parts in (
        [("notes.pdf", b"plain text, not a PDF", "application/pdf")],
        [("ok.png", PNG, "image/png"), ("anim.gif", b"GIF89a\x01\x00\x01\x00", "image/gif")],
    ):
        with pytest.raises(WelkinHTTPError) as exc:
            client.DocumentSummaryFiles().create(patient_id, summary["id"], files=_files(*parts))
        err = assert_error(exc.value.response, 400, "VALIDATION_ERROR")
        assert err["details"]["field"] == "files"
    assert client.DocumentSummary(id=summary["id"]).get(patient_id)["jsonBody"]["files"] is None


@covers("DocumentSummaries.get", "DocumentSummary.create")
def test_invalid_summary_is_refused(ow, client, patient_id):
    with pytest.raises(WelkinHTTPError) as exc:
        client.DocumentSummary(type="doc-type-nope").create(patient_id)
    err = assert_error(exc.value.response, 400, "VALIDATION_ERROR")
    assert err["details"]["field"] == "type"
    assert list(client.DocumentSummaries().get(patient_id)) == []


@covers(
    "DocumentSummary.create",
    "DocumentSummary.delete",
    "DocumentSummary.get",
    "DocumentSummaryFile.get",
    "DocumentSummaryFiles.create",
)
def test_delete_summary(ow, client, recorder, patient_id):
    summary = _summary(client, patient_id)
    files = client.DocumentSummaryFiles().create(
        patient_id, summary["id"], files=_files(("a.pdf", PDF, "application/pdf")))
    client.DocumentSummary(id=summary["id"]).delete(patient_id)
    assert recorder.last() == ("DELETE", _path(ow, patient_id, summary["id"]), 200)
    assert recorder.responses[-1].content == b""

    with pytest.raises(WelkinHTTPError) as exc:
        client.DocumentSummary(id=summary["id"]).get(patient_id)
    err = assert_error(exc.value.response, 404, "DT_RECORD_NOT_FOUND")
    assert err["componentType"] == "CDT"
    assert err["details"] == {"patientId": patient_id, "cdtRecordId": summary["id"], "cdtName": SUMMARY_CDT}
    with pytest.raises(WelkinHTTPError) as exc:
        client.DocumentSummaryFile(id=files[0]["id"]).get(patient_id, summary["id"])
    assert_error(exc.value.response, 404)


@covers("DocumentSummary.create")
def test_document_type_records(ow, client, api, patient_id):
    summary = _summary(client, patient_id)
    path = f"sandbox/patients/{patient_id}/document-summary/{summary['id']}/doc-type-others"
    assert_error(api.get(path), 404, "DT_RECORD_NOT_FOUND")
    assert_error(api.post(path, json={"colour": "red"}), 400, "VALIDATION_ERROR")

    r = api.post(path, json={"notes": "some notes..."})
    assert r.status_code == 201, r.text
    record = r.json()
    assert set(record) == RECORD_KEYS
    assert record["cdtName"] == "doc-type-others"
    jb = record["jsonBody"]
    assert (jb["notes"], jb["source_type"], jb["source_name"], jb["source_id"]) == (
        "some notes...", "DOCUMENT_SUMMARY", "DOCUMENT_SUMMARY", summary["id"])
    support.activate(client)
    formation = client.Formation(version="current").DocumentType(name="doc-type-others").get()
    assert record["cdtId"] == formation["id"]
    assert api.get(path).json() == record
    assert_error(api.post(path, json={"notes": "again"}), 409, "DT_RECORD_ALREADY_EXISTS")

    r = api.request("PUT", path, json={"notes": "revised"})
    assert r.status_code == 200 and r.json()["jsonBody"]["notes"] == "revised"
    r = api.delete(path)
    assert (r.status_code, r.content) == (200, b"")
    assert_error(api.get(path), 404, "DT_RECORD_NOT_FOUND")


@covers("DocumentSummaries.get")
def test_documents_need_the_documents_policy(ow, client, patient_id, ro_client):
    support.activate(ro_client)
    with pytest.raises(WelkinHTTPError) as exc:
        ro_client.DocumentSummaries().get(patient_id)
    assert_error(exc.value.response, 403, "ACCESS_FOR_API_CLIENT_RESTRICTED", with_date=False)
    support.activate(client)
