//! The log output of every command: text for people or JSON for collectors (one object per
//! line), on standard error, filtered by `OPENWELKIN_LOG`. docs/METRICS.md describes both.

use std::io::IsTerminal;
use tracing_subscriber::EnvFilter;

/// What a process logs when `OPENWELKIN_LOG` is not set: its own information (start, the
/// access log of `serve`, warnings); nothing of the libraries.
pub const DEFAULT_FILTER: &str = "openwelkin=info";

/// `--log-format`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line per event for people; coloured only when standard error is a terminal.
    #[default]
    Text,
    /// One JSON object per line: `timestamp`, `level`, `target`, `message`, the event's
    /// fields, and the fields of the request it belongs to under `span`.
    Json,
}

/// Keeps the log writer's thread; dropping it writes out what is still queued. Hold it for
/// the life of the process (`main`).
#[must_use = "the log lines still queued are lost when the guard is dropped"]
pub struct LogGuard(#[allow(dead_code)] tracing_appender::non_blocking::WorkerGuard);

/// Lines that may wait for the log thread. The queue's slots are allocated up front:
/// tracing-appender's default, 128 000, held 4 MB of an idle server's memory; the thread
/// drains a queue in microseconds, so a burst this long is already far behind.
const QUEUED_LINES: usize = 16_384;

/// Installs the global subscriber. An `OPENWELKIN_LOG` that does not parse is reported
/// (in the chosen format) and the default filter used instead.
///
/// Lines are formatted where they are logged and written by a thread of their own through
/// a buffer flushed whenever the queue is empty: under load many lines go out in one write,
/// and a request never waits for standard error (unless `QUEUED_LINES` are queued: then it
/// does, rather than lose lines).
pub fn init(format: LogFormat) -> LogGuard {
    let (filter, refused) = match std::env::var("OPENWELKIN_LOG") {
        Ok(spec) if !spec.trim().is_empty() => match EnvFilter::try_new(&spec) {
            Ok(filter) => (filter, None),
            Err(e) => (EnvFilter::new(DEFAULT_FILTER), Some((spec, e.to_string()))),
        },
        _ => (EnvFilter::new(DEFAULT_FILTER), None),
    };
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(QUEUED_LINES)
        .thread_name("openwelkin-log")
        .finish(std::io::BufWriter::new(std::io::stderr()));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        LogFormat::Json => {
            builder.json().flatten_event(true).with_current_span(true).with_span_list(false).init();
            // A panic's message would otherwise be the one line on standard error that is
            // not JSON.
            std::panic::set_hook(Box::new(|info| {
                let location = info.location().map(ToString::to_string).unwrap_or_default();
                let payload = info
                    .payload()
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| info.payload().downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                let backtrace = std::backtrace::Backtrace::capture();
                if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
                    tracing::error!(panic = %payload, %location, %backtrace, "panicked");
                } else {
                    tracing::error!(panic = %payload, %location, "panicked");
                }
            }));
        }
    }
    if let Some((spec, error)) = refused {
        tracing::warn!(OPENWELKIN_LOG = %spec, %error, default = DEFAULT_FILTER, "OPENWELKIN_LOG does not parse; using the default");
    }
    LogGuard(guard)
}
