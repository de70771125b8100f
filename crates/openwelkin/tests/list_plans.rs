//! Lists that do not scan (issue 12): the SQLite query plan of every list query, in its
//! default form (first page, default sort) and with its main filters, reads its table
//! through an index (`SEARCH … USING INDEX`), never a `SCAN` of the table, and the default
//! sort comes from that index (no `USE TEMP B-TREE FOR ORDER BY`).
//!
//! The SQL is the store's: the `ORDER BY` comes from `store::query::order_by` and the
//! `WHERE` from `store::query::Where` where the store builds them that way; the fixed
//! parts are copied from the store function named above each entry. Keep them in step
//! when a list query changes (and add the index it needs in a migration).

mod common;

use common::Server;
use openwelkin::store::patients::{page_order, PatientFilter};
use openwelkin::store::query::{order_by, Arg, SortColumn, Where};
use openwelkin::store::Backend;

/// `(name, sql, sorted)`: when `sorted`, the plan must not sort in a temporary b-tree.
type Case = (&'static str, String, bool);

fn w(clauses: &[&str]) -> String {
    let mut w = Where::default();
    for c in clauses {
        let n = c.matches('?').count();
        w.and(c, (0..n).map(|i| Arg::Int(i as i64)));
    }
    w.sql().to_string()
}

fn default_order(column: &str) -> String {
    order_by(&[], column)
}

const PAGE: &str = " LIMIT 20 OFFSET 0";

fn cases() -> Vec<Case> {
    let mut c: Vec<Case> = Vec::new();
    let mut list = |name: &'static str, table: &str, filter: &[&str], order: String| {
        let wh = w(filter);
        c.push((name, format!("SELECT COUNT(*) AS n FROM {table}{wh}"), false));
        c.push((name, format!("SELECT * FROM {table}{wh}{order}{PAGE}"), true));
    };

    // Db::tasks (and Db::goal_tasks): default sort created_at.
    let by_created = default_order("created_at");
    list("tasks", "tasks", &["instance_id = ?"], by_created.clone());
    list("tasks by patient", "tasks", &["instance_id = ?", "patient_id IN (?)"], by_created.clone());
    list("tasks by assignee", "tasks", &["instance_id = ?", "assignee_id IN (?)"], by_created.clone());
    list("tasks of a goal", "tasks", &["instance_id = ?", "goal_id = ?"], by_created.clone());

    // Db::goals, Db::goal_comments.
    list("care plan goals", "care_plan_goals", &["instance_id = ?", "patient_id = ?"], by_created.clone());
    list("goal comments", "care_plan_goal_comments", &["instance_id = ?", "goal_id = ?"], by_created.clone());

    // calendar::event_where + Db::calendar_events / calendar_events_all: default sort start_at.
    let not_cancelled = "(event_status IS NULL OR event_status <> ?)";
    let by_start = default_order("start_at");
    list("calendar events", "calendar_events", &["instance_id = ?", not_cancelled], by_start.clone());
    list(
        "calendar events in a range",
        "calendar_events",
        &["instance_id = ?", "start_at < ?", "end_at > ?", not_cancelled],
        by_start.clone(),
    );
    list(
        "calendar events without encounters",
        "calendar_events",
        &[
            "instance_id = ?",
            not_cancelled,
            "NOT EXISTS (SELECT 1 FROM encounters en WHERE en.instance_id = calendar_events.instance_id \
             AND en.calendar_event_id = calendar_events.id)",
        ],
        by_start,
    );
    // Db::work_hours_in_range.
    list("work hours", "calendar_work_hours", &["instance_id = ?"], " ORDER BY created_at ASC, id ASC".into());

    // Db::encounters, Db::encounter_comments.
    let oldest = " ORDER BY created_at, id".to_string();
    list("encounters of a patient", "encounters", &["instance_id = ?", "patient_id = ?"], oldest.clone());
    list("encounters of a user", "encounters", &["instance_id = ?", "(owner_user_id = ?)"], oldest.clone());
    list("encounter comments", "encounter_comments", &["instance_id = ?", "encounter_id = ?"], oldest.clone());

    // Db::assessment_records (api/assessment_records.rs: order_by(sorts, "created_at")).
    list(
        "assessment records",
        "assessment_records",
        &["instance_id = ? AND patient_id = ? AND (? = '' OR assessment_name = ?)"],
        by_created.clone(),
    );

    // records::scoped + Db::records (CDT and PDT records).
    let dt = ["instance_id = ?", "dt_kind = ?", "dt_name = ?"];
    list("records of a patient", "dt_records", &[&dt[..], &["patient_id = ?"]].concat(), oldest.clone());
    list("records without a patient", "dt_records", &[&dt[..], &["patient_id IS NULL"]].concat(), oldest.clone());
    list("records of a type", "dt_records", &dt, oldest.clone());

    // Db::sms_messages: default sort created_at; Db::sms_outbox: queued_at.
    list("sms of a patient", "sms_messages", &["instance_id = ?", "patient_id = ?"], by_created.clone());
    list("sms unmatched", "sms_messages", &["instance_id = ?", "unmatched = 1"], by_created.clone());
    list(
        "sms unrecognised",
        "sms_messages",
        &["instance_id = ?", "unmatched = 1 AND patient_id IS NULL"],
        by_created.clone(),
    );
    list("sms outbox", "sms_outbox", &["instance_id = ?"], default_order("queued_at"));
    list("sms outbox to", "sms_outbox", &["instance_id = ?", "to_phone = ?"], default_order("queued_at"));

    // Db::emails: default sort created_at; Db::email_drafts; Db::email_outbox.
    list("emails of a patient", "emails", &["instance_id = ?", "patient_id = ?"], by_created.clone());
    list("emails unrecognised", "emails", &["instance_id = ?", "patient_id IS NULL"], by_created.clone());
    list("emails unmatched", "emails", &["instance_id = ?", "unmatched = 1"], by_created.clone());
    list("email drafts", "email_drafts", &["instance_id = ? AND patient_id = ?"], oldest.clone());
    list("email outbox", "email_outbox", &["instance_id = ?"], oldest.clone());
    list("email outbox to", "email_outbox", &["instance_id = ?", "to_key = ?"], oldest.clone());

    // chat::scope_where + Db::chat_page (newest first), Db::chat_messages, Db::chat_search.
    let chat = ["instance_id = ?", "patient_id = ?", "archived = ?"];
    list("chat page", "chat_messages", &chat, " ORDER BY created_at DESC, id DESC".into());
    list("chat messages", "chat_messages", &chat, " ORDER BY created_at ASC, id ASC".into());
    list(
        "chat search",
        "chat_messages",
        &["instance_id = ?", "archived = ?", "search LIKE ? ESCAPE '\\'"],
        " ORDER BY created_at DESC, id DESC".into(),
    );

    // calls::call_where + Db::calls: newest first.
    let newest_call = " ORDER BY called_at DESC, id DESC".to_string();
    list("calls of a patient", "calls", &["instance_id = ?", "patient_id = ?"], newest_call.clone());
    list("calls unrecognized", "calls", &["instance_id = ?", "unrecognized = ?"], newest_call);

    // Db::messaging_templates (by name), Db::communications (newest first).
    list("messaging templates", "messaging_templates", &["instance_id = ?"], " ORDER BY name ASC, id ASC".into());
    list(
        "communications",
        "communications",
        &["instance_id = ?", "patient_id = ?"],
        " ORDER BY created_at DESC, id DESC".into(),
    );

    // billing::listing.
    let billing = " ORDER BY created_at, id".to_string();
    list("billing records", "billing_records", &["instance_id = ?", "kind = ?"], billing.clone());
    list("billing of a patient", "billing_records", &["instance_id = ?", "kind = ?", "patient_id = ?"], billing);

    // Db::users: default sort created_at.
    list("users", "users", &["tenant_id = ?"], by_created);

    // Db::communication_ids.
    list(
        "communication ids",
        "communication_ids",
        &["instance_id = ? AND (? = '' OR channel = ?)"],
        " ORDER BY created_at, id".into(),
    );

    // Db::contacts, Db::dictionary_records, Db::patient_programs.
    list(
        "contacts",
        "contacts",
        &["instance_id = ? AND patient_id = ? AND (? = '' OR pdt_record_id = ?) AND (? < 0 OR active = ?)"],
        oldest.clone(),
    );
    list(
        "dictionary records",
        "dictionary_records",
        &["instance_id = ? AND dictionary_name = ? AND (? = 1 OR deleted = 0) AND +updated_at >= ? AND +updated_at <= ?"],
        oldest.clone(),
    );
    list("patient programs", "patient_programs", &["instance_id = ? AND patient_id = ?"], oldest);

    // Db::patients: the unfiltered list in every sort; the filters that name a few
    // patients, through their own index (store::patients::page_order).
    let filtered = |f: fn(&mut PatientFilter)| {
        let mut filter = PatientFilter::default();
        f(&mut filter);
        filter
    };
    let all = PatientFilter::default();
    let mut few: Vec<Case> = Vec::new();
    for column in
        ["id", "first_name", "last_name", "email", "birth_date", "timezone", "external_id", "mrn", "created_at"]
    {
        let sort = [SortColumn { column, descending: false }];
        list("patients sorted", "patients", &["instance_id = ?"], page_order(Backend::Sqlite, &all, &sort));
    }
    for (name, clause, filter) in [
        ("patients by email", "email = ?", filtered(|f| f.email = Some("a@b.c".into()))),
        ("patients by mrn", "mrn = ?", filtered(|f| f.mrn = Some("m".into()))),
        ("patients by external id", "external_id = ?", filtered(|f| f.external_id = Some("e".into()))),
    ] {
        let sql = format!(
            "SELECT * FROM patients{}{}{PAGE}",
            w(&["instance_id = ?", clause]),
            page_order(Backend::Sqlite, &filter, &[])
        );
        // Their few matches are sorted outside an index (`sorted`: false).
        few.push((name, sql, false));
    }

    // Db::data_audit, Db::security_audit (newest first), Db::webhook_attempts.
    list("data audit", "audit_data", &["tenant_id = ?"], " ORDER BY seq DESC".into());
    list("security audit", "audit_security", &["tenant_id = ?"], " ORDER BY seq DESC".into());
    list("webhook attempts", "webhook_attempts", &["tenant_id = ?"], " ORDER BY sent_at DESC, id DESC".into());
    c.extend(few);
    c
}

/// The columns an index must constrain for a list: every plain `column = …`,
/// `column IN (?)` and `column IS NULL` of its `WHERE` (the scope, the main filters and
/// the join column of a correlated subquery).
fn equalities(sql: &str) -> Vec<String> {
    let Some(start) = sql.find(" WHERE ") else { return vec![] };
    let end = sql.find(" ORDER BY ").unwrap_or(sql.len());
    sql[start + 7..end]
        .split(" AND ")
        .filter_map(|clause| {
            let (column, rest) = clause.trim().split_once(' ')?;
            // `en.calendar_event_id = calendar_events.id`: a subquery's join column.
            let column = column.rsplit('.').next()?;
            let simple = column.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            let eq = rest.starts_with("= ") || rest.starts_with("IN (") || rest == "IS NULL";
            (simple && eq).then(|| format!("{column}="))
        })
        .collect()
}

/// Equalities checked on the rows an index finds, not in the index: the few archived chat
/// messages, and unrecognised SMS among the unmatched ones (sms_messages_unmatched).
const RESIDUAL: &[(&str, &str)] = &[
    ("chat page", "archived="),
    ("chat messages", "archived="),
    ("chat search", "archived="),
    ("sms unrecognised", "patient_id="),
];

/// The problems of one plan: a table read by a full scan, an equality of the list that no
/// index search uses, or a sort outside an index.
fn problems(name: &str, plan: &[String], sql: &str, sorted: bool) -> Vec<String> {
    let mut out: Vec<String> = plan
        .iter()
        .filter(|d| d.starts_with("SCAN ") || (sorted && d.contains("TEMP B-TREE")) || d.contains("AUTOMATIC"))
        .cloned()
        .collect();
    let searches = plan.join("\n");
    for column in equalities(sql) {
        if !searches.contains(&column) && !RESIDUAL.contains(&(name, column.as_str())) {
            out.push(format!("{column}? not in the index search"));
        }
    }
    out
}

#[tokio::test]
async fn every_list_query_is_served_by_an_index() {
    if common::is_postgres() {
        return;
    }
    let s = Server::start().await;
    let path = s.db_url.strip_prefix("sqlite://").expect("a SQLite test database");
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut failures = Vec::new();
    for (name, sql, sorted) in cases() {
        let mut stmt =
            conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap_or_else(|e| panic!("{name}: {e}\n{sql}"));
        let nulls = std::iter::repeat_n(rusqlite::types::Null, stmt.parameter_count());
        let plan: Vec<String> = stmt
            .query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        println!("{name}\n    {sql}\n    {plan:?}");
        let bad = problems(name, &plan, &sql, sorted);
        if !bad.is_empty() {
            failures.push(format!("{name}: {bad:?}\n    {sql}\n    plan: {plan:?}"));
        }
    }
    assert!(failures.is_empty(), "{} list queries scan or sort:\n{}", failures.len(), failures.join("\n"));
}
