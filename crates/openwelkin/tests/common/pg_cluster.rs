//! Private PostgreSQL clusters for the tests that stop, restart or fail over a database
//! server (they cannot use the shared test database). Made with Debian's
//! `pg_createcluster` on a free port, listening on loopback only, trust authentication;
//! dropped when the value is dropped. Managing clusters needs root, as CI has.

use std::process::Command;

pub struct Cluster {
    pub version: String,
    pub name: String,
    pub port: u16,
}

/// Runs a command; panics with its output when it fails; returns its trimmed stdout.
pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = Command::new(cmd).args(args).output().unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl Cluster {
    /// A new, stopped cluster.
    pub fn create(prefix: &str) -> Cluster {
        let version = std::fs::read_dir("/etc/postgresql")
            .expect("Debian's PostgreSQL (postgresql-common) is installed")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().to_string())
            .max()
            .expect("a PostgreSQL version");
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let name = super::unique(prefix);
        // Small; it listens on `localhost` (loopback) only, PostgreSQL's default.
        run(
            "pg_createcluster",
            &[
                &version,
                &name,
                "-p",
                &port.to_string(),
                "-o",
                "max_connections=40",
                "-o",
                "shared_buffers=16MB",
                "--",
                "--auth=trust",
            ],
        );
        Cluster { version, name, port }
    }

    /// `pg_ctlcluster` with `action` (`start`, `stop`, `promote`…) and its options.
    pub fn ctl(&self, action: &str, options: &[&str]) {
        let mut args = vec!["--skip-systemctl-redirect", &self.version, &self.name, action];
        args.extend_from_slice(options);
        run("pg_ctlcluster", &args);
    }

    pub fn start(&self) {
        self.ctl("start", &[]);
    }

    /// A fast shutdown: sessions are ended, what was committed stays.
    pub fn stop(&self) {
        self.ctl("stop", &["-m", "fast"]);
    }

    pub fn data_dir(&self) -> String {
        format!("/var/lib/postgresql/{}/{}", self.version, self.name)
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// One statement through psql; its unaligned output.
    pub fn sql(&self, db: &str, statement: &str) -> String {
        run(
            "psql",
            &["-qAt", "-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-d", db, "-c", statement],
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("pg_dropcluster").args(["--stop", &self.version, &self.name]).output();
    }
}
