//! A full disk never costs an acknowledged write. The database (on SQLite) and the file
//! store live on a small tmpfs of their own; creates run until the disk is full, the
//! refused writes are answered `507 INSUFFICIENT_STORAGE` while reads go on, and once
//! space returns (the tmpfs grows) and after a restart, every write that was answered
//! 201 is there. On PostgreSQL the database is the shared test server, so only the file
//! store is on the tmpfs.
//!
//! Mounting a tmpfs needs root, which the test suite has (CI runs as root); elsewhere the
//! test fails rather than passing without having checked anything.

mod common;

use common::{error_code, is_postgres, Server, FIXTURE_DESIGNER};
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmpfs mounted on a temporary directory, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .expect("running mount");
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs and needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Space returns: the same filesystem, bigger.
    fn resize(&self, size: &str) {
        let out =
            Command::new("mount").args(["-o", &format!("remount,size={size}")]).arg(self.path()).output().unwrap();
        assert!(out.status.success(), "remount: {}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).output();
    }
}

const PDF: &[u8] = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";

fn pdf_of(size: usize) -> Vec<u8> {
    let mut v = PDF.to_vec();
    v.extend(std::iter::repeat_n(b' ', size));
    v
}

fn multipart(name: &str, bytes: &[u8]) -> (String, Vec<u8>) {
    let boundary = "openwelkin-full-disk-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n\
         Content-Type: application/pdf\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend(format!("\r\n--{boundary}--\r\n").into_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

struct Disk {
    s: Server,
    token: String,
    pid: String,
    summary: String,
}

impl Disk {
    fn documents(&self) -> String {
        self.s.sandbox(&format!("/patients/{}/document-summary/{}", self.pid, self.summary))
    }

    async fn upload(&self, name: &str, bytes: &[u8]) -> (StatusCode, Value) {
        let (content_type, body) = multipart(name, bytes);
        let resp = self
            .s
            .http
            .post(self.s.url(&format!("{}/files", self.documents())))
            .bearer_auth(&self.token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    async fn create(&self, n: usize) -> (StatusCode, Value) {
        // About 2 KB a patient (with its audit and outbox rows), so the disk fills fast.
        let note = "x".repeat(600);
        let body = json!({"firstName": "Full", "lastName": format!("Disk{n}"), "middleName": note,
                          "email": format!("full.disk.{n}@example.com")});
        self.s.post(&self.s.sandbox("/patients"), &self.token, body).await
    }

    /// Every acknowledged patient reads back.
    async fn assert_all_readable(&self, ids: &[String], when: &str) {
        let mut missing = Vec::new();
        for id in ids {
            let (status, _) = self.s.get(&self.s.sandbox(&format!("/patients/{id}")), &self.token).await;
            if status != StatusCode::OK {
                missing.push(id.clone());
            }
        }
        assert!(
            missing.is_empty(),
            "{when}: {} of {} acknowledged patients lost: {missing:?}",
            missing.len(),
            ids.len()
        );
    }

    async fn assert_file(&self, file_id: &str, bytes: &[u8]) {
        let resp = self
            .s
            .http
            .get(self.s.url(&format!("{}/files/{file_id}", self.documents())))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.bytes().await.unwrap().as_ref(), bytes, "file {file_id} byte for byte");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_with_507_keeps_reads_and_loses_nothing() {
    let disk = Tmpfs::mount("12m");
    let files: PathBuf = disk.path().join("files");
    let files_arg = files.to_str().unwrap().to_string();
    let db_on_tmpfs = !is_postgres();
    let s = if db_on_tmpfs {
        let url = format!("sqlite://{}", disk.path().join("openwelkin.db").display());
        Server::start_on(url, None, &["--no-webhook-worker", "--files-dir", &files_arg])
    } else {
        Server::start_on(
            std::env::var("OPENWELKIN_TEST_DATABASE").unwrap(),
            None,
            &["--no-webhook-worker", "--files-dir", &files_arg],
        )
    };
    s.cli(&["designer", "apply", FIXTURE_DESIGNER, "--tenant", &s.tenant]);
    let token = s.token().await;
    let patient = s.create_patient(&token, json!({"firstName": "Doc", "lastName": "Owner"})).await;
    let pid = patient["id"].as_str().unwrap().to_string();
    let (status, summary) = s
        .post(&s.sandbox(&format!("/patients/{pid}/document-summary")), &token, json!({"type": "doc-type-others"}))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{summary}");
    let summary = summary["id"].as_str().unwrap().to_string();
    let d = Disk { s, token, pid, summary };

    // A first file goes in while there is room.
    let first_file = pdf_of(200_000);
    let (status, uploaded) = d.upload("first.pdf", &first_file).await;
    assert_eq!(status, StatusCode::CREATED, "{uploaded}");
    let first_file_id = uploaded[0]["id"].as_str().unwrap().to_string();

    // Fill the disk: with files (PostgreSQL), or with patients (the SQLite database).
    let started = Instant::now();
    let mut acknowledged: Vec<String> = Vec::new();
    let mut refused = 0;
    let mut n = 0;
    if db_on_tmpfs {
        while refused < 25 && n < 40_000 && started.elapsed() < Duration::from_secs(120) {
            let (status, body) = d.create(n).await;
            n += 1;
            match status {
                StatusCode::CREATED => acknowledged.push(body["id"].as_str().unwrap().to_string()),
                StatusCode::INSUFFICIENT_STORAGE => {
                    assert_eq!(error_code(&body), "INSUFFICIENT_STORAGE");
                    refused += 1;
                }
                other => panic!("create {n} answered {other}: {body}"),
            }
        }
        assert_eq!(refused, 25, "the disk never filled: {n} creates in {:?}", started.elapsed());
        assert!(acknowledged.len() > 100, "only {} creates before the disk was full", acknowledged.len());
    }
    let big = pdf_of(1_500_000);
    let mut file_refused = false;
    // At most 20 files of 1.5 MB (30 MB) for a 12 MB disk.
    for i in 0..20 {
        let (status, body) = d.upload(&format!("big{i}.pdf"), &big).await;
        if status == StatusCode::INSUFFICIENT_STORAGE {
            assert_eq!(error_code(&body), "INSUFFICIENT_STORAGE");
            file_refused = true;
            break;
        }
        assert_eq!(status, StatusCode::CREATED, "upload {i}: {body}");
    }
    assert!(file_refused, "the file store never filled");

    // Reads go on while writes are refused.
    let (status, _) = d.s.get(&d.s.sandbox(&format!("/patients/{}", d.pid)), &d.token).await;
    assert_eq!(status, StatusCode::OK);
    let (status, page) = d.s.get(&d.s.sandbox("/patients?size=5"), &d.token).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    d.assert_file(&first_file_id, &first_file).await;

    // Space returns: writes are accepted again, without a restart.
    disk.resize("64m");
    let (status, body) = d.create(n).await;
    assert_eq!(status, StatusCode::CREATED, "after space returned: {body}");
    acknowledged.push(body["id"].as_str().unwrap().to_string());
    let (status, body) = d.upload("after.pdf", &big).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let after_file_id = body[0]["id"].as_str().unwrap().to_string();
    d.assert_all_readable(&acknowledged, "after space returned").await;

    // And after a restart.
    let mut d = d;
    d.s.kill9();
    d.s.spawn();
    d.token = d.s.token().await;
    d.assert_all_readable(&acknowledged, "after a restart").await;
    d.assert_file(&first_file_id, &first_file).await;
    d.assert_file(&after_file_id, &big).await;
    let (status, body) = d.create(n + 1).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    // The acknowledged writes are counted exactly: none of the refused ones slipped in.
    let (_, page) = d.s.get(&d.s.sandbox("/patients?query=disk&size=1"), &d.token).await;
    assert_eq!(page["totalElements"].as_u64().unwrap() as usize, acknowledged.len() + 1, "stored vs acknowledged");
}
