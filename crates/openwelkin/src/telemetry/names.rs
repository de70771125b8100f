//! Every metric the server records, by name, with its help text. The rooms record them
//! with the `metrics` macros and these constants; `describe()` registers the help text and
//! the zero values of counters with a fixed set of labels (so that `rate()` and alerts see
//! a series before its first event). docs/METRICS.md lists the same metrics; a test checks
//! that it names every one of `ALL`.

use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};

// HTTP (api/observe.rs).
pub const HTTP_REQUESTS: &str = "openwelkin_http_requests_total";
pub const HTTP_DURATION: &str = "openwelkin_http_request_duration_seconds";
pub const HTTP_IN_FLIGHT: &str = "openwelkin_http_requests_in_flight";

// Database (store/tx.rs, store/sql/query.rs, telemetry/exporter.rs).
pub const DB_ACQUIRE: &str = "openwelkin_db_acquire_duration_seconds";
pub const DB_TRANSACTION: &str = "openwelkin_db_transaction_duration_seconds";
pub const DB_COMMIT: &str = "openwelkin_db_commit_duration_seconds";
pub const DB_QUERY: &str = "openwelkin_db_query_duration_seconds";
pub const DB_CONNECTIONS: &str = "openwelkin_db_connections";
pub const DB_CONNECTIONS_MAX: &str = "openwelkin_db_connections_max";
pub const DB_WAITING: &str = "openwelkin_db_waiting";
pub const DB_READ_BATCHES: &str = "openwelkin_db_read_batches_total";
pub const DB_BATCHED_READS: &str = "openwelkin_db_batched_reads_total";

// Webhooks (events/webhooks.rs, telemetry/exporter.rs).
pub const WEBHOOK_ATTEMPTS: &str = "openwelkin_webhook_attempts_total";
pub const WEBHOOK_ABANDONED: &str = "openwelkin_webhook_deliveries_abandoned_total";
pub const WEBHOOK_ATTEMPT_DURATION: &str = "openwelkin_webhook_attempt_duration_seconds";
pub const WEBHOOK_BACKLOG: &str = "openwelkin_webhook_backlog";
pub const WEBHOOK_LAG: &str = "openwelkin_webhook_lag_seconds";

// Messages (services/sms/send.rs, delivery/email.rs).
pub const SMS_SENDS: &str = "openwelkin_sms_sends_total";
pub const EMAIL_SENDS: &str = "openwelkin_email_sends_total";

// Authentication (api/token.rs, api/caller.rs).
pub const TOKENS_ISSUED: &str = "openwelkin_tokens_issued_total";
pub const TOKEN_REFUSALS: &str = "openwelkin_token_refusals_total";
pub const BEARER_REJECTIONS: &str = "openwelkin_bearer_rejections_total";

// Caches (store/config_cache.rs, store/formations.rs).
pub const CACHE_LOOKUPS: &str = "openwelkin_cache_lookups_total";

// The configuration listener (store/config_watch.rs, store/config_cache.rs).
pub const CONFIG_LISTENER_CONNECTED: &str = "openwelkin_config_listener_connected";
pub const CONFIG_FALLBACK_READS: &str = "openwelkin_config_fallback_reads_total";

// The process.
pub const BUILD_INFO: &str = "openwelkin_build_info";
pub const START_TIME: &str = "openwelkin_start_time_seconds";

/// Every name above, for the documentation check.
pub const ALL: &[&str] = &[
    HTTP_REQUESTS,
    HTTP_DURATION,
    HTTP_IN_FLIGHT,
    DB_ACQUIRE,
    DB_TRANSACTION,
    DB_COMMIT,
    DB_QUERY,
    DB_CONNECTIONS,
    DB_CONNECTIONS_MAX,
    DB_WAITING,
    DB_READ_BATCHES,
    DB_BATCHED_READS,
    WEBHOOK_ATTEMPTS,
    WEBHOOK_ABANDONED,
    WEBHOOK_ATTEMPT_DURATION,
    WEBHOOK_BACKLOG,
    WEBHOOK_LAG,
    SMS_SENDS,
    EMAIL_SENDS,
    TOKENS_ISSUED,
    TOKEN_REFUSALS,
    BEARER_REJECTIONS,
    CACHE_LOOKUPS,
    CONFIG_LISTENER_CONNECTED,
    CONFIG_FALLBACK_READS,
    BUILD_INFO,
    START_TIME,
];

/// Label values of the counters whose labels are a fixed set, registered at zero.
const ZEROED: &[(&str, &str, &[&str])] = &[
    (TOKEN_REFUSALS, "reason", &["throttled", "bad_credentials", "client_disabled"]),
    (BEARER_REJECTIONS, "reason", &["missing", "invalid", "expired", "revoked"]),
    (WEBHOOK_ATTEMPTS, "outcome", &["delivered", "failed"]),
    (CONFIG_FALLBACK_READS, "reason", &["not_listening", "own_change"]),
    (DB_READ_BATCHES, "outcome", &["answered", "read_alone"]),
];

/// Registers the help text and units, and the zero values of the fixed-label counters.
pub fn describe() {
    describe_counter!(HTTP_REQUESTS, Unit::Count, "HTTP requests answered, by route template, method and status.");
    describe_histogram!(
        HTTP_DURATION,
        Unit::Seconds,
        "Time from a request's arrival to its response head, by route template, method and status."
    );
    describe_gauge!(HTTP_IN_FLIGHT, Unit::Count, "HTTP requests being handled now.");
    describe_histogram!(
        DB_ACQUIRE,
        Unit::Seconds,
        "Wait for a connection (PostgreSQL) or the writer (SQLite) when a transaction begins, by kind."
    );
    describe_histogram!(
        DB_TRANSACTION,
        Unit::Seconds,
        "Transactions from begin to commit or rollback, by kind (write, read) and outcome."
    );
    describe_histogram!(DB_COMMIT, Unit::Seconds, "COMMIT of write transactions (SQLite: the group commit's fsync).");
    describe_histogram!(
        DB_QUERY,
        Unit::Seconds,
        "Statements run outside a transaction (reads), with their connection wait."
    );
    describe_gauge!(DB_CONNECTIONS, Unit::Count, "Database connections by pool and state (idle, in_use).");
    describe_gauge!(DB_CONNECTIONS_MAX, Unit::Count, "Most connections a pool opens.");
    describe_gauge!(
        DB_WAITING,
        Unit::Count,
        "Transactions waiting for a connection (PostgreSQL) or the writer (SQLite)."
    );
    describe_counter!(
        DB_READ_BATCHES,
        Unit::Count,
        "PostgreSQL reads by key answered together in one statement, by outcome (answered, read_alone: failed, then read one by one)."
    );
    describe_counter!(DB_BATCHED_READS, Unit::Count, "Reads answered by a PostgreSQL read batch (outcome answered).");
    describe_counter!(WEBHOOK_ATTEMPTS, Unit::Count, "Webhook delivery attempts by outcome (delivered, failed).");
    describe_counter!(
        WEBHOOK_ABANDONED,
        Unit::Count,
        "Webhook deliveries given up (retry window over, or webhook inactive)."
    );
    describe_histogram!(WEBHOOK_ATTEMPT_DURATION, Unit::Seconds, "Webhook POSTs, until the receiver's answer.");
    describe_gauge!(
        WEBHOOK_BACKLOG,
        Unit::Count,
        "Webhook work not done yet, database-wide: events not fanned out, deliveries pending."
    );
    describe_gauge!(WEBHOOK_LAG, Unit::Seconds, "Age of the oldest event not fanned out, or delivery pending.");
    describe_counter!(SMS_SENDS, Unit::Count, "Outbound SMS handed to the provider, by provider and outcome.");
    describe_counter!(EMAIL_SENDS, Unit::Count, "Outbound email delivery attempts, by provider and outcome.");
    describe_counter!(TOKENS_ISSUED, Unit::Count, "Bearer tokens issued to API clients.");
    describe_counter!(TOKEN_REFUSALS, Unit::Count, "Token requests refused, by reason.");
    describe_counter!(BEARER_REJECTIONS, Unit::Count, "Requests refused for their bearer token, by reason.");
    describe_counter!(CACHE_LOOKUPS, Unit::Count, "In-process cache lookups, by cache and result (hit, miss).");
    describe_gauge!(
        CONFIG_LISTENER_CONNECTED,
        Unit::Count,
        "1 while the configuration listener (PostgreSQL LISTEN) is connected or the SQLite poller reads the counter, else 0."
    );
    describe_counter!(
        CONFIG_FALLBACK_READS,
        Unit::Count,
        "Requests that read the configuration counter from PostgreSQL instead of the listener's copy, by reason."
    );
    describe_gauge!(BUILD_INFO, Unit::Count, "Always 1; the version and database backend as labels.");
    describe_gauge!(START_TIME, Unit::Seconds, "When the process started, in Unix seconds.");
    for (name, label, values) in ZEROED {
        for value in *values {
            metrics::counter!(*name, *label => *value).increment(0);
        }
    }
    metrics::counter!(TOKENS_ISSUED).increment(0);
    metrics::counter!(WEBHOOK_ABANDONED).increment(0);
    metrics::counter!(DB_BATCHED_READS).increment(0);
}

#[cfg(test)]
mod tests {
    use super::ALL;

    #[test]
    fn every_metric_is_documented_and_named_with_its_unit() {
        let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/METRICS.md")).unwrap();
        for name in ALL {
            assert!(doc.contains(&format!("`{name}`")), "docs/METRICS.md does not describe {name}");
            assert!(name.starts_with("openwelkin_"), "{name}");
        }
        let mut sorted = ALL.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), ALL.len(), "a name listed twice");
    }
}
