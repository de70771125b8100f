//! What a PostgreSQL URL points at, said two ways: for people (the hosts and ports named in
//! an error, never the password) and for libpq's tools (`pg_dump`, `pg_restore`: a
//! keyword/value connection string without the password, which goes to the child process
//! in `PGPASSWORD`, so that it never shows in a process list).

use std::str::FromStr;
use tokio_postgres::config::{Host, SslMode, TargetSessionAttrs};

pub struct PgTarget {
    config: tokio_postgres::Config,
}

impl PgTarget {
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let config = tokio_postgres::Config::from_str(url)
            .map_err(|e| anyhow::anyhow!("the PostgreSQL URL is not valid: {e}"))?;
        Ok(PgTarget { config })
    }

    pub fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// `host:port` of every host the URL names (`127.0.0.1:5432`, `a:5432, b:5432`).
    pub fn addresses(&self) -> String {
        let ports = self.config.get_ports();
        let port = |i: usize| ports.get(i).or(ports.first()).copied().unwrap_or(5432);
        let hosts = self.config.get_hosts();
        if hosts.is_empty() {
            return format!("localhost:{}", port(0));
        }
        hosts
            .iter()
            .enumerate()
            .map(|(i, h)| match h {
                Host::Tcp(name) if name.contains(':') => format!("[{name}]:{}", port(i)),
                Host::Tcp(name) => format!("{name}:{}", port(i)),
                Host::Unix(dir) => format!("{}/.s.PGSQL.{}", dir.display(), port(i)),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The database name and user, for messages: `database "x" as user "y"`.
    pub fn who(&self) -> String {
        let user = self.config.get_user().unwrap_or("(the system user)");
        let db = self.config.get_dbname().unwrap_or(user);
        format!("database {db:?} as user {user:?}")
    }

    pub fn password(&self) -> Option<String> {
        self.config.get_password().map(|p| String::from_utf8_lossy(p).into_owned())
    }

    /// The libpq keyword/value connection string, without the password.
    pub fn conninfo(&self) -> String {
        let c = &self.config;
        let mut parts: Vec<(String, String)> = Vec::new();
        let hosts: Vec<String> = c
            .get_hosts()
            .iter()
            .map(|h| match h {
                Host::Tcp(name) => name.clone(),
                Host::Unix(dir) => dir.display().to_string(),
            })
            .collect();
        if !hosts.is_empty() {
            parts.push(("host".into(), hosts.join(",")));
        }
        if !c.get_hostaddrs().is_empty() {
            let addrs: Vec<String> = c.get_hostaddrs().iter().map(ToString::to_string).collect();
            parts.push(("hostaddr".into(), addrs.join(",")));
        }
        if !c.get_ports().is_empty() {
            let ports: Vec<String> = c.get_ports().iter().map(ToString::to_string).collect();
            parts.push(("port".into(), ports.join(",")));
        }
        if let Some(user) = c.get_user() {
            parts.push(("user".into(), user.into()));
        }
        if let Some(db) = c.get_dbname() {
            parts.push(("dbname".into(), db.into()));
        }
        if let Some(options) = c.get_options() {
            parts.push(("options".into(), options.into()));
        }
        if let Some(name) = c.get_application_name() {
            parts.push(("application_name".into(), name.into()));
        }
        let ssl = match c.get_ssl_mode() {
            SslMode::Disable => Some("disable"),
            SslMode::Require => Some("require"),
            _ => None,
        };
        if let Some(mode) = ssl {
            parts.push(("sslmode".into(), mode.into()));
        }
        if c.get_target_session_attrs() == TargetSessionAttrs::ReadWrite {
            parts.push(("target_session_attrs".into(), "read-write".into()));
        }
        if let Some(t) = c.get_connect_timeout() {
            parts.push(("connect_timeout".into(), t.as_secs().max(1).to_string()));
        }
        parts.iter().map(|(k, v)| format!("{k}={}", quote(v))).collect::<Vec<_>>().join(" ")
    }
}

/// A libpq connection-string value: as it is when it can be, else single-quoted with `\`
/// and `'` escaped.
fn quote(value: &str) -> String {
    if !value.is_empty() && !value.contains(|c: char| c.is_whitespace() || c == '\'' || c == '\\') {
        return value.to_string();
    }
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_conninfo_name_every_host_and_never_the_password() {
        let t = PgTarget::parse("postgres://ow:s3cr%27t@db1:5433,db2/app?target_session_attrs=read-write").unwrap();
        assert_eq!(t.addresses(), "db1:5433, db2:5432");
        assert_eq!(t.who(), "database \"app\" as user \"ow\"");
        assert_eq!(t.password().as_deref(), Some("s3cr't"));
        let info = t.conninfo();
        assert_eq!(info, "host=db1,db2 port=5433,5432 user=ow dbname=app target_session_attrs=read-write");
        assert!(!info.contains("s3cr"));
        let t = PgTarget::parse("postgres://postgres@127.0.0.1:1/x").unwrap();
        assert_eq!(t.addresses(), "127.0.0.1:1");
        assert_eq!(quote(r"a'b\c"), r"'a\'b\\c'");
        assert_eq!(quote("my app"), "'my app'");
        assert_eq!(quote(""), "''");
    }
}
