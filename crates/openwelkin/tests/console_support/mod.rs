//! What the console's tests share: operators made with the CLI, and a browser without
//! redirects followed that keeps its cookies by hand (the cookies are what they look at).
#![allow(dead_code)]

use crate::common::{self, unique, Server};
use reqwest::{header, StatusCode};
use std::io::Write;
use std::process::{Command, Stdio};

/// Creates an operator with the CLI, the password on standard input.
pub fn operator(server: &Server, password: &str) -> String {
    let name = unique("op");
    let mut child = Command::new(common::BIN)
        .args(["operators", "create", &name, "--password-stdin", "--database", &server.db_url])
        .env("OPENWELKIN_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    assert!(child.wait().unwrap().success());
    name
}

/// A browser without redirects followed and with its own cookie jar (by hand: the
/// cookies are what the tests look at).
pub struct Browser {
    http: reqwest::Client,
    base: String,
    pub cookies: std::collections::BTreeMap<String, String>,
}

pub struct Page {
    pub status: StatusCode,
    pub headers: header::HeaderMap,
    pub body: String,
}

impl Browser {
    pub fn new(server: &Server) -> Browser {
        let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Browser { http, base: server.base.clone(), cookies: Default::default() }
    }

    pub fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    pub async fn keep(&mut self, r: reqwest::Response) -> Page {
        for v in r.headers().get_all(header::SET_COOKIE) {
            let text = v.to_str().unwrap();
            let (pair, _) = text.split_once(';').unwrap_or((text, ""));
            let (k, v) = pair.split_once('=').unwrap();
            if v.is_empty() {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.to_string(), v.to_string());
            }
        }
        Page { status: r.status(), headers: r.headers().clone(), body: r.text().await.unwrap() }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header(header::COOKIE, self.cookie_header())
            .send()
            .await
            .unwrap();
        self.keep(r).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)], origin: Option<&str>) -> Page {
        let mut req =
            self.http.post(format!("{}{path}", self.base)).header(header::COOKIE, self.cookie_header()).form(form);
        if let Some(o) = origin {
            req = req.header(header::ORIGIN, o);
        }
        let r = req.send().await.unwrap();
        self.keep(r).await
    }

    pub async fn sign_in(&mut self, name: &str, password: &str) -> Page {
        let page = self.get("/console/sign-in").await;
        let csrf = csrf_of(&page.body);
        self.post("/console/sign-in", &[("csrf", &csrf), ("name", name), ("password", password)], None).await
    }
}

/// The CSRF token of the first form of a page.
pub fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
    html[at..at + 64].to_string()
}

/// The notice (or problem) a POST's redirect carries, decoded: what the next page shows.
pub fn redirect_text(page: &Page, key: &str) -> Option<String> {
    let location = page.headers.get(header::LOCATION)?.to_str().ok()?.to_string();
    let query = location.split_once('?')?.1.split('#').next()?.to_string();
    form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

impl Page {
    /// Where a POST redirected to, asserting that it did.
    pub fn location(&self) -> String {
        assert_eq!(self.status, StatusCode::SEE_OTHER, "{}", self.body);
        self.headers[header::LOCATION].to_str().unwrap().to_string()
    }
}

/// A new operator, signed in: the browser, the operator's name and the session's CSRF
/// token (the same on every page of the session).
pub async fn signed_in(server: &Server) -> (Browser, String, String) {
    let name = operator(server, PASSWORD);
    let mut b = Browser::new(server);
    let signed = b.sign_in(&name, PASSWORD).await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    let home = b.get("/console/").await;
    let csrf = csrf_of(&home.body);
    (b, name, csrf)
}

pub const PASSWORD: &str = "correct horse battery";
