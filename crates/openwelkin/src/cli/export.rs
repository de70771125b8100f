//! `openwelkin export`: writes every record of one export type of an instance to a file,
//! as NDJSON (one record per line) or CSV (one column per top-level key, nested values as
//! JSON text, text that starts like a spreadsheet formula prefixed with `'`), with a
//! progress bar on a terminal.
//!
//! It reads the pages the HTTP export serves (`services::export::fetch`), rendered the same
//! way, but all inside one read transaction: the file is a snapshot of one moment, with
//! every record that existed then exactly once, whatever writes go on meanwhile.

use super::DatabaseArg;
use crate::app::AppState;
use crate::auth::policy::Policy;
use crate::clock::Clock;
use crate::services::export::{self as service, ExportType};
use crate::services::scope::{InstanceScope, Scope as ClientScope};
use crate::store::clients::{ApiClient, InstanceGrant};
use crate::store::export::{Position, Scope};
use crate::store::Db;
use anyhow::{anyhow, bail, Context};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Map, Value};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Ndjson,
    Csv,
}

#[derive(Args)]
pub struct ExportArgs {
    /// The tenant, by name.
    #[arg(long)]
    pub tenant: String,
    /// The instance, by name.
    #[arg(long)]
    pub instance: String,
    /// The export type, as in GET /{tenant}/{instance}/export/{TYPE} (PATIENT, CDT_RECORD, …).
    #[arg(long = "type")]
    pub export_type: String,
    /// The file to write (replaced if it exists).
    #[arg(long)]
    pub out: PathBuf,
    /// The file's format: one JSON object per line (ndjson) or CSV with a header row.
    #[arg(long, value_enum, default_value = "ndjson")]
    pub format: Format,
    /// Only records changed at or after this ISO-8601 time, or after an export cursor.
    #[arg(long)]
    pub start: Option<String>,
    /// Records read per query.
    #[arg(long, default_value_t = service::MAX_PAGE_SIZE)]
    pub page_size: i64,
    /// No progress bar (it is also left out when stderr is not a terminal).
    #[arg(long)]
    pub quiet: bool,
    #[command(flatten)]
    pub db: DatabaseArg,
}

pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let ty = service::export_type(&args.export_type).ok_or_else(|| {
        anyhow!("unknown export type {:?}; one of {}", args.export_type, service::type_names().join(", "))
    })?;
    if !(1..=100_000).contains(&args.page_size) {
        bail!("--page-size must be between 1 and 100000");
    }
    let after = args.start.as_deref().map(service::parse_start).transpose().map_err(|e| anyhow!("--start {e}"))?;
    let db = Db::connect(&args.db.database).await?;
    let tenant = db.tenant_by_name(&args.tenant).await?.with_context(|| format!("no tenant {:?}", args.tenant))?;
    let instance = db
        .instance_by_name(&tenant.id, &args.instance)
        .await?
        .with_context(|| format!("no instance {:?} in tenant {:?}", args.instance, args.tenant))?;
    let ctx = InstanceScope {
        scope: ClientScope { client: cli_client(&tenant.id), tenant, request_uri: String::new(), operator: None },
        instance,
    };
    let state = AppState::new(db.clone(), Clock::system()).await?;

    // One read transaction for every page: a snapshot (WAL on SQLite; REPEATABLE READ on
    // PostgreSQL).
    let mut snapshot = db.begin_read().await?;
    let scope_id = match ty.source.scope {
        Scope::Instance => ctx.instance.id.clone(),
        Scope::Tenant => ctx.tenant.id.clone(),
    };
    let total = crate::store::export::count(&mut *snapshot, &ty.source, &scope_id, after.as_ref()).await?;
    let bar = progress_bar(total, args.quiet, ty.name);

    let written = match args.format {
        Format::Ndjson => {
            let mut out = create(&args.out)?;
            let n = write_pages(&state, &ctx, ty, after, args.page_size, &mut snapshot, &bar, |record| {
                serde_json::to_writer(&mut out, record)?;
                out.write_all(b"\n")?;
                Ok(())
            })
            .await?;
            out.flush()?;
            n
        }
        Format::Csv => {
            // The columns are every top-level key of every record, in order of first
            // appearance, so the records go to a side file first.
            let part = part_file(&args.out);
            let mut side = create(&part)?;
            let mut columns: Vec<String> = Vec::new();
            let n = write_pages(&state, &ctx, ty, after, args.page_size, &mut snapshot, &bar, |record| {
                if let Some(o) = record.as_object() {
                    for k in o.keys() {
                        if !columns.contains(k) {
                            columns.push(k.clone());
                        }
                    }
                }
                serde_json::to_writer(&mut side, record)?;
                side.write_all(b"\n")?;
                Ok(())
            })
            .await?;
            side.flush()?;
            drop(side);
            let result = write_csv(&part, &args.out, &columns);
            let _ = std::fs::remove_file(&part);
            result?;
            n
        }
    };
    snapshot.rollback().await?;
    bar.finish_and_clear();
    eprintln!("exported {written} {} records to {}", ty.name, args.out.display());
    db.close().await;
    Ok(())
}

/// The caller the CLI acts as: the operator, with every permission in this tenant.
fn cli_client(tenant_id: &str) -> ApiClient {
    ApiClient {
        id: "openwelkin-cli".into(),
        tenant_id: tenant_id.into(),
        name: "openwelkin".into(),
        secret_hash: String::new(),
        secret_version: 0,
        enabled: true,
        policy: Policy::all_access(),
        instances: InstanceGrant::All,
        created_at: 0,
    }
}

fn progress_bar(total: i64, quiet: bool, name: &str) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(total.max(0) as u64),
        if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() },
    );
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} records, {per_sec}, {eta} left")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_message(name.to_string());
    bar
}

#[allow(clippy::too_many_arguments)]
async fn write_pages(
    state: &AppState,
    ctx: &InstanceScope,
    ty: &ExportType,
    mut after: Option<Position>,
    size: i64,
    snapshot: &mut crate::store::Tx,
    bar: &ProgressBar,
    mut write: impl FnMut(&Value) -> anyhow::Result<()>,
) -> anyhow::Result<u64> {
    let mut written = 0u64;
    loop {
        let page = service::fetch(state, ctx, ty, after.as_ref(), size, Some(&mut **snapshot))
            .await
            .map_err(|e| anyhow!("reading the export failed: {} {}", e.content.code, e.content.message))?;
        for record in &page.data {
            write(record)?;
        }
        written += page.data.len() as u64;
        bar.inc(page.data.len() as u64);
        if !page.has_next {
            return Ok(written);
        }
        after = page.last;
    }
}

fn create(path: &Path) -> anyhow::Result<BufWriter<File>> {
    Ok(BufWriter::with_capacity(1 << 20, File::create(path).with_context(|| format!("creating {}", path.display()))?))
}

fn part_file(out: &Path) -> PathBuf {
    let mut name = out.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".part");
    out.with_file_name(name)
}

fn write_csv(records: &Path, out: &Path, columns: &[String]) -> anyhow::Result<()> {
    let mut w = create(out)?;
    let header: Vec<String> = columns.iter().map(|c| csv_cell(&Value::String(c.clone()))).collect();
    writeln!(w, "{}", header.join(","))?;
    let reader = BufReader::new(File::open(records).with_context(|| format!("reading {}", records.display()))?);
    for line in reader.lines() {
        let record: Map<String, Value> = serde_json::from_str(&line?)?;
        writeln!(w, "{}", csv_line(columns, &record))?;
    }
    w.flush()?;
    Ok(())
}

/// What a spreadsheet takes for the start of a formula (OWASP's CSV injection list: a
/// cell `=HYPERLINK(…)` or `@SUM(…)` would run when the file is opened).
const FORMULA_STARTS: &[char] = &['=', '+', '-', '@', '\t', '\r'];

/// A text cell a spreadsheet will not run: one starting like a formula gets a `'` in
/// front, which spreadsheets show as text. JSON numbers are written as they are: they
/// are only digits, a sign, a point and an exponent, never a formula, so a negative
/// number stays a number. A text value that looks like one (`"-5"`) is still prefixed.
fn inert(text: String) -> String {
    if text.starts_with(FORMULA_STARTS) {
        format!("'{text}")
    } else {
        text
    }
}

/// Flattens a record for CSV: one column per top-level key, nested values as JSON text
/// (which starts with `{` or `[`); text made inert (`inert`).
fn csv_cell(v: &Value) -> String {
    let text = match v {
        Value::Null => String::new(),
        Value::String(s) => inert(s.clone()),
        Value::Bool(_) | Value::Number(_) => v.to_string(),
        Value::Array(_) | Value::Object(_) => v.to_string(),
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The CSV line of `record` for these columns.
fn csv_line(columns: &[String], record: &Map<String, Value>) -> String {
    columns.iter().map(|c| record.get(c).map(csv_cell).unwrap_or_default()).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn csv_cells_quote_what_needs_it_and_nest_as_json() {
        assert_eq!(csv_cell(&json!("plain")), "plain");
        assert_eq!(csv_cell(&json!("a,b")), "\"a,b\"");
        assert_eq!(csv_cell(&json!("say \"hi\"")), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell(&Value::Null), "");
        assert_eq!(csv_cell(&json!(3)), "3");
        assert_eq!(csv_cell(&json!({"a": [1]})), "\"{\"\"a\"\":[1]}\"");
        let cols = vec!["id".to_string(), "x".to_string()];
        assert_eq!(csv_line(&cols, json!({"id": "1"}).as_object().unwrap()), "1,");
    }

    #[test]
    fn csv_text_that_starts_like_a_formula_is_made_inert() {
        assert_eq!(csv_cell(&json!("=HYPERLINK(\"http://x\",\"y\")")), "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
        assert_eq!(csv_cell(&json!("+1 555")), "'+1 555");
        assert_eq!(csv_cell(&json!("-5")), "'-5");
        assert_eq!(csv_cell(&json!("@SUM(A1)")), "'@SUM(A1)");
        assert_eq!(csv_cell(&json!("\tx")), "'\tx");
        assert_eq!(csv_cell(&json!("\rx")), "\"'\rx\"");
        assert_eq!(csv_cell(&json!("a=b")), "a=b", "only the start counts");
        assert_eq!(csv_cell(&json!(-5)), "-5", "a JSON number is never a formula");
        assert_eq!(csv_cell(&json!(-1.5e3)), "-1500.0");
    }
}
