//! The network edge: TLS for `serve` and for every outbound connection (`tls`), the
//! address rules for URLs that tenants configure (`ssrf`), and the per-connection limits
//! of the accept loop in `cli/serve.rs` (`conn`, with `os` for the process's file limit and
//! returning freed memory).

pub mod conn;
pub mod os;
pub mod ssrf;
pub mod tls;
