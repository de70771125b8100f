//! What stops a start, said at once with the value at fault: a database that cannot be
//! reached (a refused PostgreSQL connection, a SQLite file in a directory that does not
//! exist), reported by `serve` and by every admin command in under 5 s; an address to
//! listen on that is in use or is no address.

mod common;

use common::{BIN, FIXTURE_DESIGNER};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The longest a refusal may take.
const AT_ONCE: Duration = Duration::from_secs(5);

/// Runs `openwelkin ARGS` with nothing from the environment that could point elsewhere;
/// returns whether it succeeded, its stderr and how long it took.
fn run(args: &[String]) -> (bool, String, Duration) {
    let started = Instant::now();
    let out = Command::new(BIN)
        .args(args)
        .env("OPENWELKIN_LOG", "warn")
        .env_remove("OPENWELKIN_CONFIG")
        .env_remove("OPENWELKIN_DATABASE_URL")
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned(), started.elapsed())
}

/// `serve` and every admin command that opens the database, on `database`.
fn every_command(database: &str, scratch: &Path) -> Vec<Vec<String>> {
    let file = |name: &str| scratch.join(name).display().to_string();
    let backup_file = file("backup");
    std::fs::write(&backup_file, "a file that restore will never get to read").unwrap();
    let commands: Vec<Vec<String>> = [
        vec!["serve", "--listen", "127.0.0.1:0"],
        vec!["tenants", "list"],
        vec!["tenants", "create", "acme"],
        vec!["instances", "create", "acme", "extra"],
        vec!["clients", "list", "--tenant", "acme"],
        vec!["clients", "create", "--tenant", "acme", "--all-access"],
        vec!["clients", "disable", "--tenant", "acme", "--name", "X"],
        vec!["clients", "enable", "--tenant", "acme", "--name", "X"],
        vec!["clients", "rotate-secret", "--tenant", "acme", "--name", "X"],
        vec!["clients", "set-policy", "--tenant", "acme", "--name", "X", "--all-access"],
        vec!["webhooks", "list", "--tenant", "acme", "--instance", "live"],
        vec!["webhooks", "activate", "--tenant", "acme", "--instance", "live", "--name", "w"],
        vec!["webhooks", "deactivate", "--tenant", "acme", "--instance", "live", "--name", "w"],
        vec!["designer", "apply", FIXTURE_DESIGNER, "--tenant", "acme"],
        vec!["designer", "publish", "--tenant", "acme", "--instance", "live"],
        vec!["export", "--tenant", "acme", "--instance", "live", "--type", "PATIENT", "--out", &file("export")],
        vec!["reset", "--tenant", "acme"],
        vec!["seed", "--tenant", "acme", "--instance", "live", "--count", "1"],
        vec!["snapshot", "save", "s", "--tenant", "acme", "--instance", "live"],
        vec!["snapshot", "restore", "s", "--tenant", "acme", "--instance", "live"],
        vec!["snapshot", "list", "--tenant", "acme", "--instance", "live"],
        vec!["snapshot", "delete", "s", "--tenant", "acme", "--instance", "live"],
        vec!["outbox", "list", "sms", "--tenant", "acme", "--instance", "live"],
        vec!["outbox", "clear", "sms", "--tenant", "acme", "--instance", "live"],
        vec!["backup", "--out", &file("out")],
        vec!["restore", "--from", &backup_file],
        vec!["operators", "list"],
        vec!["operators", "create", "ops", "--password-stdin"],
        vec!["operators", "disable", "ops"],
        vec!["operators", "reset-password", "ops", "--password-stdin"],
    ]
    .into_iter()
    .map(|c| c.into_iter().map(String::from).collect())
    .collect();
    commands
        .into_iter()
        .map(|mut c| {
            c.extend(["--database".to_string(), database.to_string()]);
            c
        })
        .collect()
}

/// The leaf commands (`tenants list`, `backup`, …) whose help offers --database, found by
/// walking `--help`: the list above must cover them all.
fn commands_taking_a_database(prefix: &[String]) -> Vec<String> {
    let mut args = prefix.to_vec();
    args.push("--help".into());
    let out = Command::new(BIN).args(&args).output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout).into_owned();
    let subcommands: Vec<String> = help
        .split("Commands:")
        .nth(1)
        .map(|rest| {
            rest.lines()
                .skip(1)
                .take_while(|l| l.starts_with("  "))
                .filter_map(|l| l.split_whitespace().next().map(String::from))
                .filter(|name| name != "help")
                .collect()
        })
        .unwrap_or_default();
    if subcommands.is_empty() {
        return if help.contains("--database") { vec![prefix.join(" ")] } else { Vec::new() };
    }
    subcommands
        .into_iter()
        .flat_map(|name| {
            let mut next = prefix.to_vec();
            next.push(name);
            commands_taking_a_database(&next)
        })
        .collect()
}

fn name_of(command: &[String]) -> String {
    command
        .iter()
        .take_while(|a| !a.starts_with('-') && a.as_str() != FIXTURE_DESIGNER)
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn every_command_that_opens_the_database_is_checked_here() {
    let scratch = tempfile::tempdir().unwrap();
    let checked: Vec<String> = every_command("sqlite://x.db", scratch.path()).iter().map(|c| name_of(c)).collect();
    let all = commands_taking_a_database(&[]);
    assert!(all.len() > 20 && all.contains(&"tenants list".to_string()), "{all:?}");
    let missing: Vec<&String> = all.iter().filter(|c| !checked.iter().any(|k| k.starts_with(c.as_str()))).collect();
    assert!(missing.is_empty(), "commands that open the database but are not checked for a quick refusal: {missing:?}");
}

#[test]
fn a_refused_postgresql_connection_is_reported_at_once_with_its_address() {
    let scratch = tempfile::tempdir().unwrap();
    // Port 1 on the loopback: nothing listens, the kernel refuses at once.
    for command in every_command("postgres://openwelkin@127.0.0.1:1/openwelkin", scratch.path()) {
        let (ok, stderr, took) = run(&command);
        let name = name_of(&command);
        assert!(!ok, "{name} succeeded without a database");
        assert!(took < AT_ONCE, "{name} took {took:?} to report the refused connection");
        assert!(stderr.to_lowercase().contains("connection refused"), "{name}: {stderr}");
        assert!(stderr.contains("127.0.0.1:1"), "{name} does not name the address: {stderr}");
        assert!(!stderr.contains("pool timed out"), "{name}: {stderr}");
    }
}

#[test]
fn a_sqlite_file_in_a_missing_directory_is_reported_at_once_with_the_directory() {
    let scratch = tempfile::tempdir().unwrap();
    let missing = scratch.path().join("no-such-dir").join("deeper");
    let database = format!("sqlite://{}", missing.join("openwelkin.db").display());
    for command in every_command(&database, scratch.path()) {
        let (ok, stderr, took) = run(&command);
        let name = name_of(&command);
        assert!(!ok, "{name} succeeded without a database");
        assert!(took < AT_ONCE, "{name} took {took:?}");
        assert!(stderr.contains(&format!("the directory {} does not exist", missing.display())), "{name}: {stderr}");
    }
    assert!(!scratch.path().join("no-such-dir").exists(), "a command created the directory");
}

#[test]
fn an_address_in_use_and_a_bad_listen_value_are_named() {
    let scratch = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", scratch.path().join("db.sqlite").display());
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let (ok, stderr, took) =
        run(&["serve".into(), "--listen".into(), address.clone(), "--database".into(), database.clone()]);
    assert!(!ok && took < AT_ONCE, "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {address} (--listen)")) && stderr.contains("in use"),
        "{stderr}"
    );

    let untouched = format!("sqlite://{}", scratch.path().join("untouched.sqlite").display());
    for bad in ["not-an-address", "127.0.0.1:99999", "127.0.0.1"] {
        let (ok, stderr, took) =
            run(&["serve".into(), "--listen".into(), bad.into(), "--database".into(), untouched.clone()]);
        assert!(!ok && took < AT_ONCE, "{bad}: {stderr}");
        assert!(stderr.contains(&format!("--listen {bad:?} is not an address")), "{bad}: {stderr}");
    }
    // Refused before the database was touched.
    assert!(!scratch.path().join("untouched.sqlite").exists());
}
