//! `--config FILE` / `OPENWELKIN_CONFIG` (docs/openwelkin.toml): the file sets what flags
//! set; a flag, then an environment variable, overrides it; an unknown key or a wrong type
//! stops the start naming the key and the file; admin commands take the database from it.

mod common;

use common::{cli, secret_of, spawn_serving, unique, Serving, BIN};
use reqwest::StatusCode;
use serde_json::json;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The database of this test run, with a tenant and an all-access client made by the CLI.
struct Setup {
    database: String,
    tenant: String,
    client: String,
    secret: String,
    dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let database = match std::env::var("OPENWELKIN_TEST_DATABASE") {
        Ok(url) if url.starts_with("postgres") => url,
        _ => format!("sqlite://{}", dir.path().join("test.db").display()),
    };
    let tenant = unique("t");
    cli(&database, &["tenants", "create", &tenant]);
    let client = unique("C").to_uppercase();
    let secret =
        secret_of(&cli(&database, &["clients", "create", "--tenant", &tenant, "--name", &client, "--all-access"]));
    Setup { database, tenant, client, secret, dir }
}

impl Setup {
    /// Writes a configuration file in the test's directory.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

/// A running `openwelkin serve`, killed when dropped.
struct Running {
    _process: Serving,
    base: String,
}

fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args).env("OPENWELKIN_LOG", "warn");
    for var in ["OPENWELKIN_CONFIG", "OPENWELKIN_LISTEN", "OPENWELKIN_DATABASE_URL", "OPENWELKIN_EMULATOR_TOKEN"] {
        c.env_remove(var);
    }
    c.envs(env.iter().copied());
    c
}

/// Starts `openwelkin serve ARGS` and waits for its "listening" line.
fn serve(args: &[&str], env: &[(&str, &str)]) -> Running {
    let mut full = vec!["serve", "--no-webhook-worker"];
    full.extend_from_slice(args);
    let (child, base) = spawn_serving(&mut command(&full, env));
    Running { _process: Serving(child), base }
}

/// Runs a command that must fail; returns its exit code and stderr.
fn refused(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = command(args, env).output().unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A loopback port nobody listens on (free a moment ago).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

async fn emulator_answers(base: &str, token: &str) -> StatusCode {
    reqwest::Client::new().get(format!("{base}/_emulator/clock")).bearer_auth(token).send().await.unwrap().status()
}

#[tokio::test]
async fn a_file_sets_what_flags_set() {
    let s = setup();
    let port = free_port();
    let file = s.file(
        "openwelkin.toml",
        &format!(
            "listen = \"127.0.0.1:{port}\"\ndatabase = \"{}\"\ndb-timeout-ms = 3000\nemulator = true\nemulator-token = \"from-the-file\"\n",
            s.database
        ),
    );
    let running = serve(&["--config", path(&file)], &[]);
    assert_eq!(running.base, format!("http://127.0.0.1:{port}"), "listen comes from the file");
    // The database too: the tenant and client made there authenticate.
    let token = reqwest::Client::new()
        .post(format!("{}/{}/admin/api_clients/{}", running.base, s.tenant, s.client))
        .json(&json!({"secret": s.secret}))
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), StatusCode::CREATED);
    // And the flags without a value: the emulator runs, with the file's token.
    assert_eq!(emulator_answers(&running.base, "from-the-file").await, StatusCode::OK);
    drop(running);

    // OPENWELKIN_CONFIG names the file just the same.
    let running = serve(&[], &[("OPENWELKIN_CONFIG", path(&file))]);
    assert_eq!(running.base, format!("http://127.0.0.1:{port}"));
    assert_eq!(emulator_answers(&running.base, "from-the-file").await, StatusCode::OK);
    drop(running);

    // Admin commands find the database in it.
    let out = command(&["tenants", "list", "--config", path(&file)], &[]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&s.tenant));
}

#[tokio::test]
async fn flags_then_environment_override_the_file() {
    let s = setup();
    // The file's address is taken: a server that used it could not start.
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken_port = taken.local_addr().unwrap().port();
    let file = s.file(
        "openwelkin.toml",
        &format!(
            "listen = \"127.0.0.1:{taken_port}\"\ndatabase = \"{}\"\nemulator = true\nemulator-token = \"from-the-file\"\n",
            s.database
        ),
    );
    let (_, stderr) = refused(&["serve", "--config", path(&file)], &[]);
    assert!(stderr.contains(&format!("127.0.0.1:{taken_port}")) && stderr.contains("in use"), "{stderr}");

    // A flag wins over the file.
    let port = free_port();
    let running = serve(&["--config", path(&file), "--listen", &format!("127.0.0.1:{port}")], &[]);
    assert_eq!(running.base, format!("http://127.0.0.1:{port}"));
    assert_eq!(emulator_answers(&running.base, "from-the-file").await, StatusCode::OK);
    drop(running);

    // So does the environment; and a flag wins over the environment.
    let port = free_port();
    let env_listen = format!("127.0.0.1:{port}");
    let env = [("OPENWELKIN_LISTEN", env_listen.as_str()), ("OPENWELKIN_EMULATOR_TOKEN", "from-the-environment")];
    let running = serve(&["--config", path(&file)], &env);
    assert_eq!(running.base, format!("http://{env_listen}"));
    assert_eq!(emulator_answers(&running.base, "from-the-environment").await, StatusCode::OK);
    assert_eq!(emulator_answers(&running.base, "from-the-file").await, StatusCode::UNAUTHORIZED);
    drop(running);
    let running = serve(&["--config", path(&file), "--emulator-token", "from-the-flag"], &env);
    assert_eq!(emulator_answers(&running.base, "from-the-flag").await, StatusCode::OK);
    assert_eq!(emulator_answers(&running.base, "from-the-environment").await, StatusCode::UNAUTHORIZED);
}

#[test]
fn unknown_keys_and_wrong_types_are_refused_naming_the_key_and_the_file() {
    let s = setup();
    let cases = [
        ("listne = \"127.0.0.1:0\"\n", "unknown setting `listne`"),
        ("listen = 8080\n", "setting `listen`: expected a string, found an integer"),
        ("db-timeout-ms = \"soon\"\n", "setting `db-timeout-ms`: expected an integer, found a string"),
        ("emulator = \"yes\"\n", "setting `emulator`: expected true or false, found a string"),
        ("max-connections = 0\n", "setting `max-connections`: \"0\" is not valid"),
        ("sms-provider = \"pigeon\"\n", "setting `sms-provider`: \"pigeon\" is not one of outbox, twilio"),
        ("listen = \"127.0.0.1:0\"\nlisten = \"127.0.0.1:1\"\n", "is not valid TOML"),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let file = s.file(&format!("bad{i}.toml"), &format!("database = \"{}\"\n{text}", s.database));
        let (code, stderr) = refused(&["serve", "--config", path(&file)], &[]);
        assert!(stderr.contains(expected), "{text}: {stderr}");
        assert!(stderr.contains(path(&file)), "the file is not named: {stderr}");
        assert_eq!(code, 2, "{text}: a usage error");
        // The same file named by the environment, for an admin command.
        let (_, stderr) = refused(&["tenants", "list"], &[("OPENWELKIN_CONFIG", path(&file))]);
        assert!(stderr.contains(expected), "{text}: {stderr}");
    }
    let missing = s.dir.path().join("missing.toml");
    let (_, stderr) = refused(&["serve", "--config", path(&missing)], &[]);
    assert!(stderr.contains(path(&missing)), "{stderr}");
}
