//! Patients' program enrolments, scoped by instance and patient.

use super::{Db, Tx};
use crate::domain::patient_program::{PatientProgram, FINISHED};
use crate::domain::phase_distribution::PhaseCount;

pub(super) fn parse(body: &str) -> PatientProgram {
    serde_json::from_str(body).expect("stored patient programs are written by this server")
}

fn status(pp: &PatientProgram) -> &str {
    pp.status.as_deref().unwrap_or(FINISHED)
}

/// The phase the enrolment is in (the column the phase distribution report counts by).
fn phase(pp: &PatientProgram) -> Option<&str> {
    pp.current_phase.as_ref().map(|p| p.name.as_str())
}

pub async fn insert(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    pp: &PatientProgram,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO patient_programs (id, tenant_id, instance_id, patient_id, program_name, status, created_at, updated_at, body, \
         phase_name) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9)",
    )
    .bind(pp.id.as_deref())
    .bind(tenant_id)
    .bind(instance_id)
    .bind(pp.patient_id.as_deref())
    .bind(&pp.program_name)
    .bind(status(pp))
    .bind(now_ms)
    .bind(serde_json::to_string(pp).expect("patient program serializes"))
    .bind(phase(pp))
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn update(tx: &mut Tx, instance_id: &str, pp: &PatientProgram, now_ms: i64) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "UPDATE patient_programs SET status = $1, updated_at = $2, body = $3, phase_name = $6 WHERE instance_id = $4 AND id = $5",
    )
    .bind(status(pp))
    .bind(now_ms)
    .bind(serde_json::to_string(pp).expect("patient program serializes"))
    .bind(instance_id)
    .bind(pp.id.as_deref())
    .bind(phase(pp))
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn delete(tx: &mut Tx, instance_id: &str, id: &str) -> crate::store::sql::Result<bool> {
    let done = crate::store::sql::query("DELETE FROM patient_programs WHERE instance_id = $1 AND id = $2")
        .bind(instance_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(done.rows_affected() > 0)
}

pub async fn delete_for_patient(tx: &mut Tx, instance_id: &str, patient_id: &str) -> crate::store::sql::Result<u64> {
    Ok(crate::store::sql::query("DELETE FROM patient_programs WHERE instance_id = $1 AND patient_id = $2")
        .bind(instance_id)
        .bind(patient_id)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

/// The unfinished enrolment of a patient in a program, inside a write transaction, its row
/// locked until the transaction ends. When there is none, nothing is locked: callers that
/// may enrol hold `patients::lock` first.
pub async fn open_for_update(
    tx: &mut Tx,
    instance_id: &str,
    patient_id: &str,
    program_name: &str,
) -> crate::store::sql::Result<Option<PatientProgram>> {
    let sql = format!(
        "SELECT body FROM patient_programs WHERE instance_id = $1 AND patient_id = $2 AND program_name = $3 \
         AND status <> $4{}",
        tx.lock_rows()
    );
    let row = crate::store::sql::query(&sql)
        .bind(instance_id)
        .bind(patient_id)
        .bind(program_name)
        .bind(FINISHED)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(row.map(|r| parse(&r.get::<String, _>("body"))))
}

/// An enrolment of a patient by id, inside a write transaction, its row locked until the
/// transaction ends.
pub async fn get_for_update(
    tx: &mut Tx,
    instance_id: &str,
    patient_id: &str,
    id: &str,
) -> crate::store::sql::Result<Option<PatientProgram>> {
    let sql = format!(
        "SELECT body FROM patient_programs WHERE instance_id = $1 AND patient_id = $2 AND id = $3{}",
        tx.lock_rows()
    );
    let row =
        crate::store::sql::query(&sql).bind(instance_id).bind(patient_id).bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.map(|r| parse(&r.get::<String, _>("body"))))
}

impl Db {
    /// Patients per program and phase: each patient counted once per program, in the
    /// phase of their latest enrolment in it (open or finished), ordered by program and
    /// phase name.
    pub async fn phase_distribution(&self, instance_id: &str) -> crate::store::sql::Result<Vec<PhaseCount>> {
        let rows = crate::store::sql::query(
            "SELECT p.program_name, p.phase_name, COUNT(DISTINCT p.patient_id) AS n FROM patient_programs p \
             WHERE p.instance_id = $1 AND NOT EXISTS (SELECT 1 FROM patient_programs q \
             WHERE q.instance_id = p.instance_id AND q.patient_id = p.patient_id AND q.program_name = p.program_name \
             AND (q.created_at > p.created_at OR (q.created_at = p.created_at AND q.id > p.id))) \
             GROUP BY p.program_name, p.phase_name ORDER BY p.program_name, p.phase_name",
        )
        .bind(instance_id)
        .fetch_all(self.reader())
        .await?;
        Ok(rows
            .iter()
            .map(|r| PhaseCount {
                program_name: r.get("program_name"),
                phase: r.get("phase_name"),
                patients: r.get("n"),
            })
            .collect())
    }

    pub async fn patient_program(
        &self,
        instance_id: &str,
        patient_id: &str,
        id: &str,
    ) -> crate::store::sql::Result<Option<PatientProgram>> {
        let row = crate::store::sql::query(
            "SELECT body FROM patient_programs WHERE instance_id = $1 AND patient_id = $2 AND id = $3",
        )
        .bind(instance_id)
        .bind(patient_id)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.map(|r| parse(&r.get::<String, _>("body"))))
    }

    /// The unfinished enrolment of a patient in a program.
    pub async fn open_patient_program(
        &self,
        instance_id: &str,
        patient_id: &str,
        program_name: &str,
    ) -> crate::store::sql::Result<Option<PatientProgram>> {
        let row = crate::store::sql::query(
            "SELECT body FROM patient_programs WHERE instance_id = $1 AND patient_id = $2 AND program_name = $3 \
             AND status <> $4",
        )
        .bind(instance_id)
        .bind(patient_id)
        .bind(program_name)
        .bind(FINISHED)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.map(|r| parse(&r.get::<String, _>("body"))))
    }

    /// Every enrolment of a patient, finished ones included, oldest first.
    pub async fn patient_programs(
        &self,
        instance_id: &str,
        patient_id: &str,
    ) -> crate::store::sql::Result<Vec<PatientProgram>> {
        let rows = crate::store::sql::query(
            "SELECT body FROM patient_programs WHERE instance_id = $1 AND patient_id = $2 ORDER BY created_at, id",
        )
        .bind(instance_id)
        .bind(patient_id)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.iter().map(|r| parse(&r.get::<String, _>("body"))).collect())
    }
}
