//! Bulk export reads: one table at a time, in (change time, id) order, from a keyset
//! position, so that a page never depends on how many rows came before it (no offset).
//!
//! The SQL names only the table and columns of a [`Source`], which are constants of the
//! code (the export type list in `api/export.rs`); every value is bound.

use super::Db;
use crate::domain::patient_program::PatientProgram;
use crate::store::sql::Executor;
use crate::store::sql::Row;
use std::collections::HashMap;

/// Which column scopes a table: instance data, or tenant data (users).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Instance,
    Tenant,
}

/// Where the records of one export type live.
#[derive(Clone, Copy, Debug)]
pub struct Source {
    pub table: &'static str,
    pub scope: Scope,
    /// An extra condition on constant columns (`dt_kind = 'CDT'`), or "" for none. Never
    /// built from request values.
    pub filter: &'static str,
    /// The column that moves forward on every change: `updated_at`, or `created_at` for
    /// tables whose rows have no change time.
    pub changed: &'static str,
    /// The table has a `patient_id` column.
    pub patient: bool,
    /// A `dt_records` table: also `dt_name` and `version`.
    pub data_type: bool,
    /// Also the `archived` flag (chat messages).
    pub archived: bool,
}

impl Source {
    /// A table scoped by instance, changed in `updated_at`, with a `patient_id`.
    pub const fn table(table: &'static str) -> Self {
        Source {
            table,
            scope: Scope::Instance,
            filter: "",
            changed: "updated_at",
            patient: true,
            data_type: false,
            archived: false,
        }
    }

    pub const fn filter(mut self, filter: &'static str) -> Self {
        self.filter = filter;
        self
    }

    pub const fn by_tenant(mut self) -> Self {
        self.scope = Scope::Tenant;
        self
    }

    pub const fn no_patient(mut self) -> Self {
        self.patient = false;
        self
    }

    /// Rows that are written once: paged by `created_at`.
    pub const fn immutable(mut self) -> Self {
        self.changed = "created_at";
        self
    }

    pub const fn data_type(mut self) -> Self {
        self.data_type = true;
        self
    }

    pub const fn archived(mut self) -> Self {
        self.archived = true;
        self
    }

    fn select(&self) -> String {
        let mut cols = format!("id, created_at, {} AS changed_at, body", self.changed);
        if self.patient {
            cols.push_str(", patient_id");
        }
        if self.data_type {
            cols.push_str(", dt_name, version");
        }
        if self.archived {
            cols.push_str(", archived");
        }
        cols
    }

    fn scope_column(&self) -> &'static str {
        match self.scope {
            Scope::Instance => "instance_id",
            Scope::Tenant => "tenant_id",
        }
    }
}

/// A position in an export: after the row with this change time and id. An id of ""
/// is before every row of that time, so `(t, "")` means "changed at or after t".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub changed_at: i64,
    pub id: String,
}

/// One stored row, as the export renders it.
#[derive(Clone, Debug)]
pub struct ExportRow {
    pub id: String,
    pub created_at: i64,
    pub changed_at: i64,
    pub body: String,
    pub patient_id: Option<String>,
    pub dt_name: Option<String>,
    pub version: i64,
    pub archived: bool,
}

impl ExportRow {
    pub fn position(&self) -> Position {
        Position { changed_at: self.changed_at, id: self.id.clone() }
    }
}

fn from_row(source: &Source, r: &Row) -> ExportRow {
    ExportRow {
        id: r.get("id"),
        created_at: r.get("created_at"),
        changed_at: r.get("changed_at"),
        body: r.get("body"),
        patient_id: if source.patient { r.get("patient_id") } else { None },
        dt_name: if source.data_type { r.get("dt_name") } else { None },
        version: if source.data_type { r.get("version") } else { 0 },
        archived: source.archived && r.get::<i64, _>("archived") != 0,
    }
}

/// `FROM … WHERE …` of a source from a position: `$1` the scope, `$2`/`$3` the position.
fn from_where(source: &Source, after: Option<&Position>) -> String {
    let changed = source.changed;
    let mut sql = format!(" FROM {} WHERE {} = $1", source.table, source.scope_column());
    if !source.filter.is_empty() {
        sql.push_str(&format!(" AND {}", source.filter));
    }
    // `changed >= t` bounds the index range; the OR only sorts out the rows of time t.
    if after.is_some() {
        sql.push_str(&format!(" AND {changed} >= $2 AND ({changed} > $2 OR id > $3)"));
    }
    sql
}

/// Up to `limit` rows of `source` in `scope_id` after `after` (from the start when
/// `None`), in (change time, id) order. Runs on any executor: the reader pool for the
/// HTTP export, one read transaction (a snapshot) for the CLI.
pub async fn page<'c, E>(
    exec: E,
    source: &Source,
    scope_id: &str,
    after: Option<&Position>,
    limit: i64,
) -> crate::store::sql::Result<Vec<ExportRow>>
where
    E: Executor<'c>,
{
    let sql = format!(
        "SELECT {}{} ORDER BY {changed} ASC, id ASC LIMIT {}",
        source.select(),
        from_where(source, after),
        limit.max(0),
        changed = source.changed
    );
    let mut q = crate::store::sql::query(&sql).bind(scope_id);
    if let Some(p) = after {
        q = q.bind(p.changed_at).bind(p.id.as_str());
    }
    let rows = q.fetch_all(exec).await?;
    Ok(rows.iter().map(|r| from_row(source, r)).collect())
}

/// How many rows [`page`] would go through from `after` (for a progress bar).
pub async fn count<'c, E>(
    exec: E,
    source: &Source,
    scope_id: &str,
    after: Option<&Position>,
) -> crate::store::sql::Result<i64>
where
    E: Executor<'c>,
{
    let sql = format!("SELECT COUNT(*) AS n{}", from_where(source, after));
    let mut q = crate::store::sql::query(&sql).bind(scope_id);
    if let Some(p) = after {
        q = q.bind(p.changed_at).bind(p.id.as_str());
    }
    Ok(q.fetch_one(exec).await?.get("n"))
}

impl Db {
    /// A page of an export on the reader pool (see [`page`]).
    pub async fn export_page(
        &self,
        source: &Source,
        scope_id: &str,
        after: Option<&Position>,
        limit: i64,
    ) -> crate::store::sql::Result<Vec<ExportRow>> {
        page(self.reader(), source, scope_id, after, limit).await
    }

    /// The patient programs of these patients, by patient, each patient's in enrolment
    /// order (as `GET /patients/{id}` lists them); a patient with none is absent. One query
    /// for a whole page (patient lists and the export).
    pub async fn patient_programs_of(
        &self,
        instance_id: &str,
        patient_ids: &[String],
    ) -> crate::store::sql::Result<HashMap<String, Vec<PatientProgram>>> {
        let mut by_patient: HashMap<String, Vec<PatientProgram>> = HashMap::new();
        if patient_ids.is_empty() {
            return Ok(by_patient);
        }
        let marks: Vec<String> = (0..patient_ids.len()).map(|i| format!("${}", i + 2)).collect();
        let sql = format!(
            "SELECT patient_id, body FROM patient_programs WHERE instance_id = $1 AND patient_id IN ({}) \
             ORDER BY patient_id, created_at, id",
            marks.join(", ")
        );
        let mut q = crate::store::sql::query(&sql).bind(instance_id);
        for id in patient_ids {
            q = q.bind(id.as_str());
        }
        for r in q.fetch_all(self.reader()).await? {
            by_patient
                .entry(r.get("patient_id"))
                .or_default()
                .push(super::patient_programs::parse(&r.get::<String, _>("body")));
        }
        Ok(by_patient)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_select_names_only_the_columns_a_source_has() {
        let s = Source::table("dt_records").filter("dt_kind = 'CDT'").data_type();
        assert_eq!(s.select(), "id, created_at, updated_at AS changed_at, body, patient_id, dt_name, version");
        let u = Source::table("users").by_tenant().no_patient();
        assert_eq!(u.select(), "id, created_at, updated_at AS changed_at, body");
        assert_eq!(u.scope_column(), "tenant_id");
        let c = Source::table("chat_messages").immutable().archived();
        assert_eq!(c.select(), "id, created_at, created_at AS changed_at, body, patient_id, archived");
    }
}
