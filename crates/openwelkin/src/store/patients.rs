//! Patients of one instance: a JSON body plus the columns the list filters and sorts use.

use super::query::{contains_pattern, order_by_then, order_by_then_unindexed, Arg, SortColumn, Where};
use super::{Backend, Db, Tx};
use crate::domain::patient::Patient;
use crate::domain::patient_program::PatientProgram;

/// Which key a patient is looked up by (`type=ID|EID|EGUID|MRN`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatientKey {
    Id,
    ExternalId,
    ExternalGuid,
    Mrn,
}

impl PatientKey {
    fn column(self) -> &'static str {
        match self {
            PatientKey::Id => "id",
            PatientKey::ExternalId => "external_id",
            PatientKey::ExternalGuid => "external_guid",
            PatientKey::Mrn => "mrn",
        }
    }
}

/// Filters of `GET /patients` and `POST /by-filter/patients`. `Some(vec![])` for a list
/// filter means "has none" (Welkin's `territories=`).
#[derive(Clone, Debug, Default)]
pub struct PatientFilter {
    pub query: Option<String>,
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub mrn: Option<String>,
    pub external_id: Option<String>,
    /// `Some(None)`: patients without a time zone.
    pub timezone: Option<Option<String>>,
    pub territories: Option<Vec<String>>,
    pub cadence: Option<Vec<String>>,
    pub ids: Option<Vec<String>>,
}

impl PatientFilter {
    /// A filter that names a few patients at most: a value unique or nearly so within an
    /// instance (an email, an mrn, an externalId) or a list of ids.
    fn names_few(&self) -> bool {
        self.email.is_some() || self.mrn.is_some() || self.external_id.is_some() || self.ids.is_some()
    }

    /// No filter at all: the list is the whole instance.
    pub fn is_empty(&self) -> bool {
        let PatientFilter {
            query,
            email,
            first_name,
            last_name,
            mrn,
            external_id,
            timezone,
            territories,
            cadence,
            ids,
        } = self;
        query.is_none()
            && email.is_none()
            && first_name.is_none()
            && last_name.is_none()
            && mrn.is_none()
            && external_id.is_none()
            && timezone.is_none()
            && territories.is_none()
            && cadence.is_none()
            && ids.is_none()
    }
}

/// Run by the SQLite writer right before each group's `COMMIT`, in the same transaction:
/// adds the patients the triggers of migration 0023 noted to the trigram index, once per
/// group instead of once per transaction (FTS5 writes a segment whenever a savepoint ends,
/// and each transaction of a group is a savepoint).
pub const SQLITE_BEFORE_COMMIT: &[&str] = &[
    "INSERT INTO patients_fts (rowid, search) \
     SELECT p.rowid, p.search FROM patients_fts_pending f JOIN patients p ON p.rowid = f.rid",
    "DELETE FROM patients_fts_pending",
];

/// The column that orders patients as they were inserted, which breaks the ties of every
/// sort of a patient list: SQLite's rowid, which its indexes already end with, and
/// PostgreSQL's `seq` (migrations 0027 say why the id no longer does).
fn creation_order(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "rowid",
        Backend::Postgres => "seq",
    }
}

/// The `ORDER BY` of a page of patients: the sorts, then insert order.
///
/// On SQLite a filter that names a few patients is read through its own index and its
/// matches sorted (`+column` keeps SQLite from using an index for the order): SQLite keeps
/// no statistics here, and would rather walk the sort's index through the whole instance,
/// checking each patient's email (about a second for an email nobody has at 1M patients),
/// to save sorting a handful of rows. PostgreSQL plans with its statistics and the values.
pub fn page_order(backend: Backend, filter: &PatientFilter, sorts: &[SortColumn]) -> String {
    let tie = creation_order(backend);
    if backend == Backend::Sqlite && filter.names_few() {
        order_by_then_unindexed(sorts, "created_at", tie)
    } else {
        order_by_then(sorts, "created_at", tie)
    }
}

/// Maps an API sort field to its column.
pub fn sort_column(field: &str) -> Option<&'static str> {
    Some(match field {
        "id" => "id",
        "firstName" => "first_name",
        "lastName" => "last_name",
        "email" => "email",
        "birthDate" => "birth_date",
        "timezone" => "timezone",
        "externalId" => "external_id",
        "mrn" => "mrn",
        "createdAt" => "created_at",
        "updatedAt" => "updated_at",
        _ => return None,
    })
}

fn search_text(p: &Patient) -> String {
    [Some(&p.first_name), Some(&p.last_name), p.email.as_ref(), p.phone.as_ref(), p.middle_name.as_ref()]
        .into_iter()
        .flatten()
        .map(|s| s.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

fn marks(values: &[String]) -> String {
    if values.is_empty() {
        String::new()
    } else {
        format!(",{},", values.join(","))
    }
}

/// A patient read by one of its keys, with its enrolments (in no order:
/// `Db::stored_patient_with_programs` sorts them). `$instance` and `$key` are the two
/// arguments: `$1` and `$2` alone, or the elements of the batched form's keys.
macro_rules! read_patient_by {
    ($column:literal, $instance:literal, $key:literal) => {
        concat!(
            "SELECT p.body AS body, p.answer_shape AS answer_shape, pp.body AS program, \
             pp.created_at AS program_created, pp.id AS program_id FROM patients p \
             LEFT JOIN patient_programs pp ON pp.instance_id = p.instance_id AND pp.patient_id = p.id \
             WHERE p.instance_id = ",
            $instance,
            " AND p.",
            $column,
            " = ",
            $key
        )
    };
    ($column:literal) => {
        read_patient_by!($column, "$1", "$2")
    };
}
const READ_BY_ID: &str = read_patient_by!("id");
const READ_BY_EXTERNAL_ID: &str = read_patient_by!("external_id");
const READ_BY_EXTERNAL_GUID: &str = read_patient_by!("external_guid");
const READ_BY_MRN: &str = read_patient_by!("mrn");

/// `READ_BY_ID` for many callers at once on PostgreSQL (`Query::batched`): `$1` is a JSON
/// array of `[instance, id]` pairs; each is still one lookup on the primary key.
const READ_BY_ID_BATCHED: &str = concat!(
    "SELECT k.n AS batch_row, r.* FROM json_array_elements($1::json) WITH ORDINALITY AS k(v, n) \
     CROSS JOIN LATERAL (",
    read_patient_by!("id", "k.v->>0", "k.v->>1"),
    ") r"
);

/// A patient as stored, with its enrolments (`Db::stored_patient_with_programs`).
pub struct StoredPatient {
    pub body: String,
    /// `domain::patient_stored::shape_of` as the body was written (0 for rows written
    /// before the column).
    pub answer_shape: i64,
    pub programs: Vec<PatientProgram>,
}

/// When a write goes to the database.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Send {
    /// At once: its failure is this call's.
    Now,
    /// Held back and run with the commit (`Tx::defer`): on PostgreSQL a create is then one
    /// round trip, on SQLite a create holds the writer only while its rows are written,
    /// without a savepoint. A patient whose externalId, externalGuid or mrn is taken then
    /// fails the commit with the unique violation (nothing is written).
    WithCommit,
}

pub async fn insert(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    p: &Patient,
    body: &str,
    now_ms: i64,
    send: Send,
) -> crate::store::sql::Result<()> {
    // New trigram entries on PostgreSQL, for the pending lists' upkeep.
    super::search_upkeep::note_written();
    let q = insert_query(tenant_id, instance_id, p, body, now_ms);
    match send {
        Send::Now => q.execute(&mut **tx).await.map(|_| ())?,
        Send::WithCommit => tx.defer(q).await?,
    }
    if tx.backend() == Backend::Sqlite {
        // What PostgreSQL's insert triggers do (SQLite's migration 0025 says why it has
        // none): the row waits to be added to the search index at the group's commit, and
        // the instance counts one patient more. Held back like the insert, after it: if
        // the insert fails they never run.
        tx.defer(
            crate::store::sql::query(
                "INSERT OR IGNORE INTO patients_fts_pending (rid) SELECT rowid FROM patients WHERE id = $1",
            )
            .bind(&p.id),
        )
        .await?;
        tx.defer(
            crate::store::sql::query(
                "INSERT INTO patient_counts (instance_id, shard, n) VALUES ($1, 0, 1) \
                 ON CONFLICT (instance_id, shard) DO UPDATE SET n = n + 1",
            )
            .bind(instance_id),
        )
        .await?;
    }
    Ok(())
}

/// After an instance's patients were copied in by SQL (a snapshot restore, into an
/// instance cleared before), on SQLite: counts them and notes them for the search index,
/// as `insert` does for one (SQLite's patients have no insert triggers, see its migration
/// 0025). PostgreSQL's triggers did this as the rows went in.
pub async fn note_copied_patients(tx: &mut Tx, instance_id: &str) -> crate::store::sql::Result<()> {
    if tx.backend() != Backend::Sqlite {
        return Ok(());
    }
    for sql in [
        "INSERT OR IGNORE INTO patients_fts_pending (rid) SELECT rowid FROM patients WHERE instance_id = $1",
        "DELETE FROM patient_counts WHERE instance_id = $1",
        "INSERT INTO patient_counts (instance_id, shard, n) SELECT $1, 0, COUNT(*) FROM patients WHERE instance_id = $1",
    ] {
        crate::store::sql::query(sql).bind(instance_id).execute(&mut **tx).await?;
    }
    Ok(())
}

fn insert_query(
    tenant_id: &str,
    instance_id: &str,
    p: &Patient,
    body: &str,
    now_ms: i64,
) -> crate::store::sql::Query<'static> {
    crate::store::sql::query(
        "INSERT INTO patients (id, tenant_id, instance_id, external_id, external_guid, mrn, first_name, last_name, \
         email, phone, timezone, birth_date, territories, cadence, search, created_at, updated_at, body, answer_shape) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $17, $18)",
    )
    .bind(&p.id)
    .bind(tenant_id)
    .bind(instance_id)
    .bind(&p.external_id)
    .bind(&p.external_guid)
    .bind(&p.mrn)
    .bind(&p.first_name)
    .bind(&p.last_name)
    .bind(p.email.as_ref().map(|e| e.to_lowercase()))
    .bind(&p.phone)
    .bind(&p.timezone)
    .bind(&p.birth_date)
    .bind(marks(&p.territory_names()))
    .bind("")
    .bind(search_text(p))
    .bind(now_ms)
    .bind(body)
    .bind(crate::domain::patient_stored::shape_of(p))
    .values_repeatable()
}

pub async fn update(
    tx: &mut Tx,
    instance_id: &str,
    p: &Patient,
    body: &str,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    super::search_upkeep::note_written();
    crate::store::sql::query(
        "UPDATE patients SET external_id = $1, external_guid = $2, mrn = $3, first_name = $4, last_name = $5, \
         email = $6, phone = $7, timezone = $8, birth_date = $9, territories = $10, search = $11, updated_at = $12, body = $13, \
         answer_shape = $16 WHERE instance_id = $14 AND id = $15",
    )
    .bind(&p.external_id)
    .bind(&p.external_guid)
    .bind(&p.mrn)
    .bind(&p.first_name)
    .bind(&p.last_name)
    .bind(p.email.as_ref().map(|e| e.to_lowercase()))
    .bind(&p.phone)
    .bind(&p.timezone)
    .bind(&p.birth_date)
    .bind(marks(&p.territory_names()))
    .bind(search_text(p))
    .bind(now_ms)
    .bind(body)
    .bind(instance_id)
    .bind(&p.id)
    .bind(crate::domain::patient_stored::shape_of(p))
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn delete(tx: &mut Tx, instance_id: &str, id: &str) -> crate::store::sql::Result<bool> {
    let done = crate::store::sql::query("DELETE FROM patients WHERE instance_id = $1 AND id = $2")
        .bind(instance_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

/// Reads a patient inside a write transaction and locks its row until the transaction
/// ends (to update it from its current state).
pub async fn get_for_update(
    tx: &mut Tx,
    instance_id: &str,
    key: PatientKey,
    value: &str,
) -> crate::store::sql::Result<Option<Patient>> {
    let sql = format!("SELECT body FROM patients WHERE instance_id = $1 AND {} = $2{}", key.column(), tx.lock_rows());
    let row = crate::store::sql::query(&sql).bind(instance_id).bind(value).fetch_optional(&mut **tx).await?;
    Ok(row.map(|r| parse_body(&r.get::<String, _>("body"))))
}

/// Locks a patient's row until the transaction ends; `false` when the patient does not
/// exist (any more). Writes that check a rule over a patient's records (at most one
/// record of a type) or add records to a patient take this first, so they run one after
/// the other per patient and never outlive a concurrent delete of the patient.
pub async fn lock(tx: &mut Tx, instance_id: &str, id: &str) -> crate::store::sql::Result<bool> {
    let sql = format!("SELECT id FROM patients WHERE instance_id = $1 AND id = $2{}", tx.lock_rows());
    Ok(crate::store::sql::query(&sql).bind(instance_id).bind(id).fetch_optional(&mut **tx).await?.is_some())
}

/// The id of another patient of the instance holding the same unique key, if any.
pub async fn holder_of(
    tx: &mut Tx,
    instance_id: &str,
    key: PatientKey,
    value: &str,
) -> crate::store::sql::Result<Option<String>> {
    let sql = format!("SELECT id FROM patients WHERE instance_id = $1 AND {} = $2", key.column());
    let row = crate::store::sql::query(&sql).bind(instance_id).bind(value).fetch_optional(&mut **tx).await?;
    Ok(row.map(|r| r.get("id")))
}

impl Db {
    pub async fn patient(
        &self,
        instance_id: &str,
        key: PatientKey,
        value: &str,
    ) -> crate::store::sql::Result<Option<Patient>> {
        let sql = format!("SELECT body FROM patients WHERE instance_id = $1 AND {} = $2", key.column());
        let row = crate::store::sql::query(&sql).bind(instance_id).bind(value).fetch_optional(self.reader()).await?;
        Ok(row.map(|r| parse_body(&r.get::<String, _>("body"))))
    }

    /// The patient `key` names, as its stored text (which a read may answer as it is:
    /// `domain::patient_stored`), and its program enrolments: one query.
    pub async fn stored_patient_with_programs(
        &self,
        instance_id: &str,
        key: PatientKey,
        value: &str,
    ) -> crate::store::sql::Result<Option<StoredPatient>> {
        // No ORDER BY: the enrolments (almost always none or one) are put in order here.
        // Sorting in the statement gave PostgreSQL a sort step on every read, about a tenth
        // of its cost for the read (pgbench on this statement, with and without it).
        let sql = match key {
            PatientKey::Id => READ_BY_ID,
            PatientKey::ExternalId => READ_BY_EXTERNAL_ID,
            PatientKey::ExternalGuid => READ_BY_EXTERNAL_GUID,
            PatientKey::Mrn => READ_BY_MRN,
        };
        let read = crate::store::sql::query(sql).bind(instance_id).bind(value);
        let read = if key == PatientKey::Id { read.batched(READ_BY_ID_BATCHED) } else { read.quick() };
        let rows = read.fetch_all(self.reader()).await?;
        let Some(first) = rows.first() else { return Ok(None) };
        let mut enrolments: Vec<(i64, String, String)> = rows
            .iter()
            .filter_map(|r| {
                let body = r.get::<Option<String>, _>("program")?;
                Some((r.get("program_created"), r.get("program_id"), body))
            })
            .collect();
        enrolments.sort();
        let programs = enrolments.iter().map(|(_, _, body)| super::patient_programs::parse(body)).collect();
        Ok(Some(StoredPatient { body: first.get("body"), answer_shape: first.get("answer_shape"), programs }))
    }

    /// One page of patients and the total count of matches.
    ///
    /// `totalElements` stays exact without counting the instance on every page: an
    /// unfiltered list reads the per-instance count kept in the writing transaction in
    /// `patient_counts` (migrations 0015 and 0017, summed over its shards; on SQLite kept
    /// by `insert` and a delete trigger, migration 0025); a filtered list counts its matches through the
    /// same indexes the page uses (equality filters on their index, substring filters of 3+
    /// characters on the trigram index), so the count grows with the matches, not with the
    /// instance.
    pub async fn patients(
        &self,
        instance_id: &str,
        filter: &PatientFilter,
        sorts: &[SortColumn],
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<Patient>, i64)> {
        let w = self.patient_where(instance_id, filter);
        let total: i64 = if filter.is_empty() {
            // The sum of the instance's count shards (migration 0017).
            crate::store::sql::query(
                "SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) AS n FROM patient_counts WHERE instance_id = $1",
            )
            .bind(instance_id)
            .fetch_one(self.reader())
            .await?
            .get("n")
        } else {
            let count_sql = format!("SELECT COUNT(*) AS n FROM patients{}", w.sql());
            w.bind(crate::store::sql::query(&count_sql)).persistent(false).fetch_one(self.reader()).await?.get("n")
        };
        if total == 0 || offset >= total {
            return Ok((Vec::new(), total));
        }
        let page_sql = format!(
            "SELECT body FROM patients{}{} LIMIT {limit} OFFSET {offset}",
            w.sql(),
            page_order(self.backend(), filter, sorts)
        );
        // A filtered list is planned with its values (an unnamed statement): a cached
        // generic plan would not know that `LIKE '%needle%'` is selective, and PostgreSQL
        // would walk the sort index instead of the trigram index.
        let rows =
            w.bind(crate::store::sql::query(&page_sql)).persistent(filter.is_empty()).fetch_all(self.reader()).await?;
        Ok((rows.iter().map(|r| parse_body(&r.get::<String, _>("body"))).collect(), total))
    }

    /// The `WHERE` of a patient list.
    fn patient_where(&self, instance_id: &str, filter: &PatientFilter) -> Where {
        let mut w = Where::default();
        w.and("instance_id = ?", [Arg::Text(instance_id.into())]);
        // Substring filters: the trigram index over `search` (the lowercased names, email,
        // phone) names the candidate rows, a superset for a name filter: on SQLite the FTS5
        // table, on PostgreSQL the GIN index serving `search LIKE` (migration 0024: the
        // names have no trigram index of their own). The exact, case-insensitive LIKE on
        // the filtered column is checked on each candidate.
        for (needle, column) in [
            (&filter.query, "search"),
            (&filter.first_name, "LOWER(first_name)"),
            (&filter.last_name, "LOWER(last_name)"),
        ] {
            let Some(needle) = needle else { continue };
            let pattern = contains_pattern(needle);
            match self.backend() {
                Backend::Sqlite if needle.chars().count() >= 3 => {
                    w.and(
                        "rowid IN (SELECT rowid FROM patients_fts WHERE patients_fts.search LIKE ?)",
                        [Arg::Text(format!("%{}%", needle.to_lowercase()))],
                    );
                }
                Backend::Postgres if column != "search" => {
                    w.and("search LIKE ? ESCAPE '\\'", [Arg::Text(pattern.clone())]);
                }
                _ => {}
            }
            w.and(&format!("{column} LIKE ? ESCAPE '\\'"), [Arg::Text(pattern)]);
        }
        if let Some(email) = &filter.email {
            w.and("email = ?", [Arg::Text(email.to_lowercase())]);
        }
        if let Some(v) = &filter.mrn {
            w.and("mrn = ?", [Arg::Text(v.clone())]);
        }
        if let Some(v) = &filter.external_id {
            w.and("external_id = ?", [Arg::Text(v.clone())]);
        }
        match &filter.timezone {
            Some(None) => {
                w.and("timezone IS NULL", []);
            }
            Some(Some(tz)) => {
                w.and("timezone = ?", [Arg::Text(tz.clone())]);
            }
            None => {}
        }
        for (column, wanted) in [("territories", &filter.territories), ("cadence", &filter.cadence)] {
            match wanted {
                Some(list) if list.is_empty() => {
                    w.and(&format!("{column} = ''"), []);
                }
                Some(list) => {
                    let clause = vec![format!("{column} LIKE ?"); list.len()].join(" OR ");
                    w.and(&format!("({clause})"), list.iter().map(|t| Arg::Text(format!("%,{t},%"))));
                }
                None => {}
            }
        }
        if let Some(ids) = &filter.ids {
            if ids.is_empty() {
                w.and("1 = 0", []);
            } else {
                let clause = vec!["?"; ids.len()].join(", ");
                w.and(&format!("id IN ({clause})"), ids.iter().map(|i| Arg::Text(i.clone())));
            }
        }
        w
    }
}

/// What is stored (the `body` of `insert` and `update`): the patient without the parts
/// that are filled when read. It is also what the write's audit entry shows.
pub fn stored_body(p: &Patient) -> String {
    if p.care_team.is_empty() && p.patient_programs.is_empty() && p.territorial_team.is_none() {
        // As written by a create or an update: nothing to take out, nothing to copy.
        return serde_json::to_string(p).expect("patient serializes");
    }
    let mut stored = p.clone();
    stored.care_team.clear();
    stored.patient_programs.clear();
    stored.territorial_team = None;
    serde_json::to_string(&stored).expect("patient serializes")
}

fn parse_body(body: &str) -> Patient {
    serde_json::from_str(body).expect("stored patient bodies are written by this server")
}
