//! Documents over HTTP: document summaries in the recorded envelope, multipart uploads
//! judged by content, byte-for-byte downloads, document-type records, and nothing left
//! behind (rows or files) when a summary or its patient is deleted.

mod common;

use common::{error_code, Server, BIN};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89";
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";

fn jpeg() -> Vec<u8> {
    // A JPEG header followed by every byte value, so that a download that altered any
    // byte (text decoding, line endings) would show.
    let mut v = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01".to_vec();
    v.extend((0..=255u8).cycle().take(5000));
    v
}

/// The server of a test, restarted with its own files directory.
struct Docs {
    s: Server,
    token: String,
    pid: String,
    files: tempfile::TempDir,
    child: Child,
}

impl Drop for Docs {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn setup() -> Docs {
    let mut s = Server::with_designer().await;
    s.kill9();
    let files = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &s.db_url, "--files-dir"])
        .arg(files.path())
        .env("OPENWELKIN_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    s.base = loop {
        let line = lines.next().expect("server exited before listening").unwrap();
        if let Some(addr) = line.strip_prefix("openwelkin listening on ") {
            break addr.trim().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    let token = s.token().await;
    let p = s.create_patient(&token, json!({"firstName": "Doc", "lastName": "Umentia"})).await;
    let pid = p["id"].as_str().unwrap().to_string();
    Docs { s, token, pid, files, child }
}

/// One part of a multipart body: part name, file name, declared type, bytes.
type Part<'a> = (&'a str, &'a str, &'a str, &'a [u8]);

fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "openwelkin-test-boundary-7d1f";
    let mut body = Vec::new();
    for (name, file, mime, bytes) in parts {
        body.extend(format!("--{boundary}\r\n").into_bytes());
        body.extend(
            format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file}\"\r\nContent-Type: {mime}\r\n\r\n"
            )
            .into_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").into_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Every file under a directory, as paths relative to it.
fn stored(dir: &Path) -> Vec<PathBuf> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(path.strip_prefix(root).unwrap().to_path_buf());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

impl Docs {
    fn base(&self) -> String {
        self.s.sandbox(&format!("/patients/{}/document-summary", self.pid))
    }

    async fn summary(&self) -> Value {
        let (status, r) = self.s.post(&self.base(), &self.token, json!({"type": "doc-type-others"})).await;
        assert_eq!(status, StatusCode::CREATED, "{r}");
        r
    }

    async fn upload_with(&self, token: &str, summary: &str, parts: &[Part<'_>]) -> (StatusCode, Value) {
        let (content_type, body) = multipart(parts);
        let resp = self
            .s
            .http
            .post(self.s.url(&format!("{}/{summary}/files?page=0", self.base())))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn upload(&self, summary: &str, parts: &[Part<'_>]) -> (StatusCode, Value) {
        self.upload_with(&self.token, summary, parts).await
    }

    async fn download(&self, summary: &str, file: &str) -> (StatusCode, String, Vec<u8>) {
        let resp = self
            .s
            .http
            .get(self.s.url(&format!("{}/{summary}/files/{file}", self.base())))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let ct = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
        (status, ct, resp.bytes().await.unwrap().to_vec())
    }

    /// The response headers of a download.
    async fn download_headers(&self, summary: &str, file: &str) -> reqwest::header::HeaderMap {
        let url = self.s.url(&format!("{}/{summary}/files/{file}", self.base()));
        let resp = self.s.http.get(url).bearer_auth(&self.token).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        resp.headers().clone()
    }

    async fn file_rows(&self, summary: &str) -> i64 {
        let db = openwelkin::store::Db::connect(&self.s.db_url).await.unwrap();
        let n: i64 = openwelkin::store::sql::query_scalar("SELECT COUNT(*) FROM document_files WHERE summary_id = $1")
            .bind(summary)
            .fetch_one(db.reader())
            .await
            .unwrap();
        db.close().await;
        n
    }
}

fn id_of(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn summaries_have_the_recorded_envelope() {
    let d = setup().await;
    let r = d.summary().await;
    assert_eq!(
        r.as_object().unwrap().keys().cloned().collect::<Vec<_>>(),
        ["cdtId", "cdtName", "id", "jsonBody", "patientId", "version"]
    );
    assert_eq!((r["cdtName"].as_str(), r["patientId"].as_str()), (Some("_document_summary"), Some(d.pid.as_str())));
    assert!(r["version"].as_i64().unwrap() >= 1);
    let body = &r["jsonBody"];
    let mut keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "created_at",
            "created_by",
            "created_by_name",
            "external_guid",
            "external_id",
            "files",
            "id",
            "source_id",
            "source_name",
            "source_type",
            "type",
            "updated_at",
            "updated_by",
            "updated_by_name"
        ]
    );
    assert_eq!((&body["type"], &body["files"], &body["id"]), (&json!("doc-type-others"), &Value::Null, &r["id"]));
    assert_eq!(body["created_by_name"], json!(format!("API_CLIENT:{}", d.s.client)));

    let id = id_of(&r);
    let (status, read) = d.s.get(&format!("{}/{id}", d.base()), &d.token).await;
    assert_eq!((status, &read), (StatusCode::OK, &r));
    let other = d.summary().await;
    assert_eq!(other["cdtId"], r["cdtId"], "one system data type");

    let (status, page) = d.s.get(&format!("{}?page=0", d.base()), &d.token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["name"], "_document_summary");
    assert_eq!(page["data"]["content"], json!([r, other]));
    for (key, value) in
        [("last", json!(true)), ("number", json!(0)), ("totalElements", json!(2)), ("first", json!(true))]
    {
        assert_eq!(page["data"][key], value, "{key}");
    }
    assert_eq!(page["data"]["pageable"]["pageNumber"], 0);
    let (_, paged) = d.s.get(&format!("{}?page=0&size=1&sort=created_at,desc", d.base()), &d.token).await;
    assert_eq!(
        (paged["data"]["content"][0]["id"].clone(), paged["data"]["last"].clone()),
        (other["id"].clone(), json!(false))
    );
    let (_, none) = d.s.get(&format!("{}?sourceId=nothing", d.base()), &d.token).await;
    assert_eq!(none["data"]["totalElements"], 0);
    let (status, err) = d.s.get(&format!("{}?sort=colour", d.base()), &d.token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "INVALID_PARAMETER"));
}

#[tokio::test]
async fn invalid_summaries_are_refused_with_nothing_written() {
    let d = setup().await;
    for (body, field) in [
        (json!({}), "type"),
        (json!({"type": "doc-type-unknown"}), "type"),
        (json!({"type": "doc-type-others", "files": [{"id": "x"}]}), "files"),
        (json!({"type": "doc-type-others", "notes": "not here"}), "notes"),
        (json!({"type": "doc-type-others", "created_by": "me"}), "created_by"),
    ] {
        let (status, err) = d.s.post(&d.base(), &d.token, body.clone()).await;
        assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"), "{body}");
        assert_eq!(err[0]["details"]["field"], field, "{body}");
    }
    let (status, _) = d.s.call(Method::POST, &d.base(), Some(&d.token), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(d.s.get(&d.base(), &d.token).await.1["data"]["totalElements"], 0);

    let missing = uuid::Uuid::new_v4();
    let (status, err) =
        d.s.post(
            &d.s.sandbox(&format!("/patients/{missing}/document-summary")),
            &d.token,
            json!({"type": "doc-type-others"}),
        )
        .await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "PATIENT_NOT_FOUND"));

    let r = d.summary().await;
    let path = format!("{}/{}", d.base(), id_of(&r));
    let (status, err) = d.s.call(Method::PUT, &path, Some(&d.token), Some(json!({"type": "doc-type-unknown"}))).await;
    assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("type")));
    assert_eq!(d.s.get(&path, &d.token).await.1, r, "nothing changed");
}

#[tokio::test]
async fn an_uploaded_file_downloads_byte_for_byte() {
    let d = setup().await;
    let summary = id_of(&d.summary().await);
    let jpg = jpeg();
    let (status, files) = d
        .upload(&summary, &[("files", "photo.jpg", "image/jpeg", &jpg), ("files", "scan.png", "image/png", PNG)])
        .await;
    assert_eq!(status, StatusCode::CREATED, "{files}");
    let list = files.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        list[0].as_object().unwrap().keys().cloned().collect::<Vec<_>>(),
        ["contentType", "id", "originalName", "size", "storageKey"]
    );
    assert_eq!(
        (&list[0]["originalName"], &list[0]["size"], &list[0]["contentType"]),
        (&json!("photo.jpg"), &json!(jpg.len()), &json!("image/jpeg"))
    );
    let key = list[0]["storageKey"].as_str().unwrap();
    let prefix = format!("{}/sandbox/patients/{}/documents/", d.s.tenant, d.pid);
    assert!(key.starts_with(&prefix), "{key}");

    for (file, bytes, ct) in [(&list[0], &jpg[..], "image/jpeg"), (&list[1], PNG, "image/png")] {
        let (status, content_type, got) = d.download(&summary, file["id"].as_str().unwrap()).await;
        assert_eq!((status, content_type.as_str()), (StatusCode::OK, ct));
        assert_eq!(got, bytes, "byte for byte");
    }
    assert_eq!(stored(d.files.path()).len(), 2);
    assert!(d.files.path().join(key).is_file(), "stored under its key");

    // The summary lists its files, in the recorded shape; a later upload adds to them.
    let (_, read) = d.s.get(&format!("{}/{summary}", d.base()), &d.token).await;
    assert_eq!(read["jsonBody"]["files"], files);
    let (status, more) = d.upload(&summary, &[("files", "letter.pdf", "application/pdf", PDF)]).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, read) = d.s.get(&format!("{}/{summary}", d.base()), &d.token).await;
    assert_eq!(read["jsonBody"]["files"].as_array().unwrap().len(), 3);
    assert_eq!(read["jsonBody"]["files"][2], more[0]);
    assert_eq!(d.file_rows(&summary).await, 3);

    let (status, err) = d.s.get(&format!("{}/{summary}/files/{}", d.base(), uuid::Uuid::new_v4()), &d.token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "FILE_NOT_FOUND"));
    let (status, _, _) = d.download(&uuid::Uuid::new_v4().to_string(), list[0]["id"].as_str().unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn documents_are_shown_inline_only_as_types_a_browser_cannot_run() {
    let d = setup().await;
    let summary = id_of(&d.summary().await);
    // HTML and SVG never become documents (their content is not JPEG, PNG or PDF), so
    // every document is of a type that is safe to show.
    for (name, kind, bytes) in [
        ("page.html", "text/html", &b"<html><script>alert(1)</script></html>"[..]),
        (
            "logo.svg",
            "image/svg+xml",
            &b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>"[..],
        ),
    ] {
        let (status, err) = d.upload(&summary, &[("files", name, kind, bytes)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{name}: {err}");
    }
    let (status, files) = d
        .upload(&summary, &[("files", "scan.png", "image/png", PNG), ("files", "résumé.pdf", "application/pdf", PDF)])
        .await;
    assert_eq!(status, StatusCode::CREATED, "{files}");
    let png = d.download_headers(&summary, files[0]["id"].as_str().unwrap()).await;
    assert_eq!(png["content-disposition"], "inline; filename=\"scan.png\"");
    assert_eq!(png["x-content-type-options"], "nosniff");
    let pdf = d.download_headers(&summary, files[1]["id"].as_str().unwrap()).await;
    assert_eq!(pdf["content-disposition"], "inline; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%2Epdf");
    assert_eq!(pdf["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn content_decides_the_type_and_other_content_is_refused() {
    let d = setup().await;
    let summary = id_of(&d.summary().await);
    // A "PNG" that is really a PDF is stored, and served, as a PDF.
    let (status, files) = d.upload(&summary, &[("files", "fake.png", "image/png", PDF)]).await;
    assert_eq!(status, StatusCode::CREATED, "{files}");
    assert_eq!(
        (files[0]["contentType"].as_str(), files[0]["originalName"].as_str()),
        (Some("application/pdf"), Some("fake.png"))
    );
    let (_, ct, bytes) = d.download(&summary, files[0]["id"].as_str().unwrap()).await;
    assert_eq!((ct.as_str(), bytes.as_slice()), ("application/pdf", PDF));
    let before = d.s.get(&format!("{}/{summary}", d.base()), &d.token).await.1;
    let on_disk = stored(d.files.path());

    // Anything but JPEG, PNG or PDF is refused, whatever its name says; in a batch with
    // good files, nothing of the batch is kept.
    for parts in [
        vec![("files", "notes.pdf", "application/pdf", &b"just some text"[..])],
        vec![("files", "anim.gif", "image/gif", &b"GIF89a\x01\x00\x01\x00"[..])],
        vec![("files", "ok.png", "image/png", PNG), ("files", "bad.jpg", "image/jpeg", &b"<html>"[..])],
        vec![("files", "empty.png", "image/png", &b""[..])],
    ] {
        let (status, err) = d.upload(&summary, &parts).await;
        assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"), "{parts:?}");
        assert_eq!(err[0]["details"]["field"], "files");
    }
    // Other malformed uploads.
    let (status, err) = d.upload(&summary, &[("attachment", "a.png", "image/png", PNG)]).await;
    assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("attachment")));
    let (status, err) = d.upload(&summary, &[]).await;
    assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("files")));
    let (status, err) = d.s.post(&format!("{}/{summary}/files", d.base()), &d.token, json!({"files": []})).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::BAD_REQUEST, "BAD_REQUEST"));
    let mut big = PNG.to_vec();
    big.resize(10 * 1024 * 1024 + 1, 0);
    let (status, err) = d.upload(&summary, &[("files", "huge.png", "image/png", &big)]).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"));
    // A file just under the limit is fine: the route is not held to the 2 MiB JSON limit.
    big.truncate(10 * 1024 * 1024);
    let (status, files) = d.upload(&summary, &[("files", "big.png", "image/png", &big)]).await;
    assert_eq!(status, StatusCode::CREATED, "{files}");
    let (_, _, got) = d.download(&summary, files[0]["id"].as_str().unwrap()).await;
    assert!(got == big, "a 10 MiB file comes back whole");
    d.s.call(
        Method::PUT,
        &format!("{}/{summary}", d.base()),
        Some(&d.token),
        Some(json!({"files": before["jsonBody"]["files"]})),
    )
    .await;

    assert_eq!(
        d.s.get(&format!("{}/{summary}", d.base()), &d.token).await.1["jsonBody"]["files"],
        before["jsonBody"]["files"]
    );
    assert_eq!(stored(d.files.path()), on_disk, "refused uploads leave no file behind");
    assert_eq!(d.file_rows(&summary).await, 1);
}

#[tokio::test]
async fn deleting_a_summary_removes_its_rows_and_files() {
    let d = setup().await;
    let r = d.summary().await;
    let summary = id_of(&r);
    let keep = id_of(&d.summary().await);
    let (_, files) =
        d.upload(&summary, &[("files", "a.pdf", "application/pdf", PDF), ("files", "b.png", "image/png", PNG)]).await;
    let (_, kept) = d.upload(&keep, &[("files", "c.pdf", "application/pdf", PDF)]).await;
    let (status, _) =
        d.s.post(&format!("{}/{summary}/doc-type-others", d.base()), &d.token, json!({"notes": "signed"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(stored(d.files.path()).len(), 3);

    let (status, empty) = d.s.delete(&format!("{}/{summary}", d.base()), &d.token).await;
    assert_eq!((status, empty), (StatusCode::OK, Value::Null));
    let (status, err) = d.s.get(&format!("{}/{summary}", d.base()), &d.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        (err[0]["errorCode"].as_str(), err[0]["componentType"].as_str(), err[0]["message"].as_str()),
        (Some("DT_RECORD_NOT_FOUND"), Some("CDT"), Some("DT record not found"))
    );
    assert_eq!(err[0]["details"], json!({"patientId": d.pid, "cdtRecordId": summary, "cdtName": "_document_summary"}));
    assert_eq!(d.file_rows(&summary).await, 0, "no file rows");
    let left = stored(d.files.path());
    assert_eq!(left, [PathBuf::from(kept[0]["storageKey"].as_str().unwrap())], "only the other summary's file is left");
    for f in files.as_array().unwrap() {
        assert!(!d.files.path().join(f["storageKey"].as_str().unwrap()).exists());
        assert_eq!(d.download(&summary, f["id"].as_str().unwrap()).await.0, StatusCode::NOT_FOUND);
    }
    assert_eq!(d.s.delete(&format!("{}/{summary}", d.base()), &d.token).await.0, StatusCode::NOT_FOUND);
    let (_, page) = d.s.get(&d.base(), &d.token).await;
    assert_eq!(page["data"]["totalElements"], 1);

    // Its document-type record went with it (audited as a CDT delete).
    let (_, audit) = d
        .s
        .get(&format!("/{}/admin/audit-data?entity=CDT&cdtName=doc-type-others&operation=DELETE", d.s.tenant), &d.token)
        .await;
    assert_eq!(audit["metaInfo"]["totalElements"], 1);

    // Deleting the patient removes the rest.
    assert_eq!(d.s.delete(&d.s.sandbox(&format!("/patients/{}", d.pid)), &d.token).await.0, StatusCode::OK);
    assert_eq!(d.file_rows(&keep).await, 0);
    assert_eq!(stored(d.files.path()), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn an_update_changes_the_type_or_drops_files() {
    let d = setup().await;
    // A second document type, published through the draft.
    let (status, body) =
        d.s.post(
            &d.s.sandbox("/formations/draft/document-types"),
            &d.token,
            json!({"name": "doc-type-id-card", "title": "ID card", "fields": [{"name": "number", "type": "text"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    d.s.call(Method::POST, &d.s.sandbox("/formations/draft/publish"), Some(&d.token), None).await;

    let r = d.summary().await;
    let summary = id_of(&r);
    let path = format!("{}/{summary}", d.base());
    let (_, files) =
        d.upload(&summary, &[("files", "a.pdf", "application/pdf", PDF), ("files", "b.png", "image/png", PNG)]).await;

    // The whole jsonBody read back, with one file left out: that file is deleted.
    let mut body = d.s.get(&path, &d.token).await.1["jsonBody"].clone();
    body["files"] = json!([files[1]]);
    body["type"] = json!("doc-type-id-card");
    let (status, updated) = d.s.call(Method::PUT, &path, Some(&d.token), Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(
        (&updated["jsonBody"]["type"], &updated["jsonBody"]["files"]),
        (&json!("doc-type-id-card"), &json!([files[1]]))
    );
    assert!(updated["jsonBody"]["updated_at"].as_str() >= r["jsonBody"]["updated_at"].as_str());
    assert_eq!(updated["jsonBody"]["created_at"], r["jsonBody"]["created_at"]);
    assert_eq!(d.download(&summary, files[0]["id"].as_str().unwrap()).await.0, StatusCode::NOT_FOUND);
    assert!(!d.files.path().join(files[0]["storageKey"].as_str().unwrap()).exists());
    assert_eq!(stored(d.files.path()).len(), 1);
    assert_eq!(d.file_rows(&summary).await, 1);

    // A file that is not the summary's cannot be listed; a linked record pins the type.
    let (status, err) = d.s.call(Method::PUT, &path, Some(&d.token), Some(json!({"files": [{"id": "nope"}]}))).await;
    assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some("files")));
    let (status, _) = d.s.post(&format!("{path}/doc-type-id-card"), &d.token, json!({"number": "X1"})).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, err) = d.s.call(Method::PUT, &path, Some(&d.token), Some(json!({"type": "doc-type-others"}))).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::CONFLICT, "DT_RECORD_ALREADY_EXISTS"));
    assert_eq!(d.s.get(&path, &d.token).await.1["jsonBody"]["type"], "doc-type-id-card");
    let (status, _) = d.s.call(Method::PUT, &path, Some(&d.token), Some(json!({"files": null}))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored(d.files.path()), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn document_type_records_hang_off_their_summary() {
    let d = setup().await;
    let summary = id_of(&d.summary().await);
    let path = format!("{}/{summary}/doc-type-others", d.base());
    let (status, err) = d.s.get(&path, &d.token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "DT_RECORD_NOT_FOUND"));

    for (body, field) in
        [(json!({"colour": "red"}), "colour"), (json!({"notes": 5}), "notes"), (json!({"source_id": "x"}), "source_id")]
    {
        let (status, err) = d.s.post(&path, &d.token, body.clone()).await;
        assert_eq!((status, err[0]["details"]["field"].as_str()), (StatusCode::BAD_REQUEST, Some(field)), "{body}");
    }
    assert_eq!(d.s.get(&path, &d.token).await.0, StatusCode::NOT_FOUND, "nothing written");

    let (status, r) = d.s.post(&path, &d.token, json!({"notes": "some notes..."})).await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    assert_eq!(
        r.as_object().unwrap().keys().cloned().collect::<Vec<_>>(),
        ["cdtId", "cdtName", "id", "jsonBody", "patientId", "version"]
    );
    let body = &r["jsonBody"];
    assert_eq!(
        (&body["notes"], &body["source_type"], &body["source_name"], &body["source_id"]),
        (&json!("some notes..."), &json!("DOCUMENT_SUMMARY"), &json!("DOCUMENT_SUMMARY"), &json!(summary))
    );
    assert_eq!(r["cdtName"], "doc-type-others");
    let formation = d.s.get(&d.s.sandbox("/formations/current/document-types/doc-type-others"), &d.token).await.1;
    assert_eq!(r["cdtId"], formation["id"]);
    assert_eq!(d.s.get(&path, &d.token).await.1, r);
    let (status, err) = d.s.post(&path, &d.token, json!({"notes": "again"})).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::CONFLICT, "DT_RECORD_ALREADY_EXISTS"));

    let (status, updated) = d.s.call(Method::PUT, &path, Some(&d.token), Some(json!({"notes": "revised"}))).await;
    assert_eq!((status, &updated["jsonBody"]["notes"]), (StatusCode::OK, &json!("revised")));
    assert_eq!(updated["jsonBody"]["source_id"], json!(summary));
    let (status, _) = d.s.call(Method::PUT, &path, Some(&d.token), Some(json!({"notes": ["x"]}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(d.s.get(&path, &d.token).await.1["jsonBody"]["notes"], "revised");

    // Unknown types and summaries.
    let (status, err) = d.s.get(&format!("{}/{summary}/doc-type-nope", d.base()), &d.token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "DT_NOT_FOUND"));
    let ghost = uuid::Uuid::new_v4();
    let (status, err) =
        d.s.post(&format!("{}/{ghost}/doc-type-others", d.base()), &d.token, json!({"notes": "n"})).await;
    assert_eq!((status, err[0]["details"]["cdtName"].as_str()), (StatusCode::NOT_FOUND, Some("_document_summary")));

    let (status, empty) = d.s.delete(&path, &d.token).await;
    assert_eq!((status, empty), (StatusCode::OK, Value::Null));
    assert_eq!(d.s.get(&path, &d.token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(d.s.delete(&path, &d.token).await.0, StatusCode::NOT_FOUND);
    assert_eq!(
        d.s.call(Method::PUT, &path, Some(&d.token), Some(json!({"notes": "x"}))).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn documents_are_audited_scoped_and_guarded() {
    let d = setup().await;
    let summary = id_of(&d.summary().await);
    d.upload(&summary, &[("files", "a.pdf", "application/pdf", PDF)]).await;
    d.s.call(Method::PUT, &format!("{}/{summary}", d.base()), Some(&d.token), Some(json!({"external_id": "ext-1"})))
        .await;
    d.s.delete(&format!("{}/{summary}", d.base()), &d.token).await;
    let (_, audit) = d.s.get(&format!("/{}/admin/audit-data?entity=DOCUMENT", d.s.tenant), &d.token).await;
    let subtypes: Vec<&str> =
        audit["data"].as_array().unwrap().iter().map(|r| r["eventSubtype"].as_str().unwrap()).collect();
    let mut sorted = subtypes.clone();
    sorted.sort();
    assert_eq!(sorted, ["DOCUMENT_CREATED", "DOCUMENT_DELETED", "DOCUMENT_UPDATED", "DOCUMENT_UPLOADED"], "{audit}");
    assert!(audit["data"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["cdtName"] == "_document_summary" && r["patientId"] == json!(d.pid)));

    // Another instance does not see the sandbox's summaries.
    let summary = id_of(&d.summary().await);
    let live = format!("/{}/live/patients/{}/document-summary/{summary}", d.s.tenant, d.pid);
    let (status, err) = d.s.get(&live, &d.token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "PATIENT_NOT_FOUND"));
    let lp =
        d.s.call(
            Method::POST,
            &format!("/{}/live/patients", d.s.tenant),
            Some(&d.token),
            Some(json!({"firstName": "L", "lastName": "P"})),
        )
        .await
        .1;
    let (status, err) =
        d.s.get(&format!("/{}/live/patients/{}/document-summary/{summary}", d.s.tenant, id_of(&lp)), &d.token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::NOT_FOUND, "DT_RECORD_NOT_FOUND"));
    // Nor does another patient.
    let other = d.s.create_patient(&d.token, json!({"firstName": "O", "lastName": "P"})).await;
    let (status, _) =
        d.s.get(&d.s.sandbox(&format!("/patients/{}/document-summary/{summary}", id_of(&other))), &d.token).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A client without the documents permission gets the recorded 403; a read-only one
    // reads but cannot upload.
    let (name, secret) = d.s.client_with_policy(&json!({"permissions": {"patients": ["read"]}}), None);
    let token = d.s.token_for(&name, &secret).await;
    let (status, err) = d.s.get(&d.base(), &token).await;
    assert_eq!((status, error_code(&err).as_str()), (StatusCode::FORBIDDEN, "ACCESS_FOR_API_CLIENT_RESTRICTED"));
    let (name, secret) = d.s.client_with_policy(&json!({"permissions": {"documents": ["read"]}}), None);
    let token = d.s.token_for(&name, &secret).await;
    assert_eq!(d.s.get(&d.base(), &token).await.0, StatusCode::OK);
    let (status, _) = d.upload_with(&token, &summary, &[("files", "a.pdf", "application/pdf", PDF)]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(d.s.post(&d.base(), &token, json!({"type": "doc-type-others"})).await.0, StatusCode::FORBIDDEN);
    assert_eq!(d.s.delete(&format!("{}/{summary}", d.base()), &token).await.0, StatusCode::FORBIDDEN);
    assert_eq!(stored(d.files.path()), Vec::<PathBuf>::new());
}

#[tokio::test]
async fn files_default_to_a_folder_next_to_the_sqlite_database() {
    if common::is_postgres() {
        return; // the default there is ./openwelkin-files, the working directory's
    }
    let s = Server::with_designer().await;
    let token = s.token().await;
    let pid = id_of(&s.create_patient(&token, json!({"firstName": "De", "lastName": "Fault"})).await);
    let base = s.sandbox(&format!("/patients/{pid}/document-summary"));
    let summary = id_of(&s.post(&base, &token, json!({"type": "doc-type-others"})).await.1);
    let (content_type, body) = multipart(&[("files", "a.pdf", "application/pdf", PDF)]);
    let resp = s
        .http
        .post(s.url(&format!("{base}/{summary}/files")))
        .bearer_auth(&token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::CREATED);
    let files: Value = resp.json().await.unwrap();
    let db_file = PathBuf::from(s.db_url.strip_prefix("sqlite://").unwrap());
    let dir = db_file.with_file_name("test-files");
    assert_eq!(std::fs::read(dir.join(files[0]["storageKey"].as_str().unwrap())).unwrap(), PDF);
}
