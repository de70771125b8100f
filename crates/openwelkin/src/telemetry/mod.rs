//! What an operator watches: the metrics (`names` lists them, `exporter` renders them for
//! `GET /metrics`) and the log output (`logs`: text or JSON, the `OPENWELKIN_LOG` filter).
//! The rooms record metrics with the `metrics` macros and the names of `names`; nothing
//! here is needed for that, and without an installed recorder (admin commands, unit tests)
//! the macros do nothing. See docs/METRICS.md.

pub mod exporter;
pub mod logs;
pub mod names;
