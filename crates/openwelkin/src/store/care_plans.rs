//! Care plans (one per patient, stored from its first write), their goals and the goals'
//! comments.

use super::query::{order_by, Arg, SortColumn, Where};
use super::{Db, Tx};
use crate::domain::task::priority_rank;
use serde_json::Value;

fn parse(body: &str) -> Value {
    serde_json::from_str(body).expect("stored care plans are written by this server")
}

/// Sort fields of goals.
pub fn goal_sort_column(field: &str) -> Option<&'static str> {
    Some(match field {
        "id" => "id",
        "createdAt" => "created_at",
        "updatedAt" => "updated_at",
        "name" => "name_key",
        "priority" => "priority_rank",
        "status" => "status",
        _ => return None,
    })
}

/// A patient's stored care plan inside a write transaction, its row locked until the
/// transaction ends. A plan not stored yet locks nothing: the first write of a plan
/// holds the patient's row (`patients::lock`) before it asks.
pub async fn plan_for_update(
    tx: &mut Tx,
    instance_id: &str,
    patient_id: &str,
) -> crate::store::sql::Result<Option<Value>> {
    let sql = format!("SELECT body FROM care_plans WHERE instance_id = $1 AND patient_id = $2{}", tx.lock_rows());
    let row = crate::store::sql::query(&sql).bind(instance_id).bind(patient_id).fetch_optional(&mut **tx).await?;
    Ok(row.map(|r| parse(&r.get::<String, _>("body"))))
}

/// Stores a care plan, first time or again.
pub async fn save_plan(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    plan: &Value,
    created_ms: i64,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO care_plans (id, tenant_id, instance_id, patient_id, created_at, updated_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) \
         ON CONFLICT (instance_id, patient_id) DO UPDATE SET updated_at = $6, body = $7",
    )
    .bind(plan["id"].as_str())
    .bind(tenant_id)
    .bind(instance_id)
    .bind(plan["patientId"].as_str())
    .bind(created_ms)
    .bind(now_ms)
    .bind(plan.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn insert_goal(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    patient_id: &str,
    goal: &Value,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO care_plan_goals (id, tenant_id, instance_id, patient_id, status, priority_rank, name_key, \
         created_at, updated_at, body) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9)",
    )
    .bind(goal["id"].as_str())
    .bind(tenant_id)
    .bind(instance_id)
    .bind(patient_id)
    .bind(goal["status"].as_str().unwrap_or_default())
    .bind(priority_rank(goal["priority"].as_str().unwrap_or_default()))
    .bind(goal["name"].as_str().unwrap_or_default().to_lowercase())
    .bind(now_ms)
    .bind(goal.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn update_goal(tx: &mut Tx, instance_id: &str, goal: &Value, now_ms: i64) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "UPDATE care_plan_goals SET status = $1, priority_rank = $2, name_key = $3, updated_at = $4, body = $5 \
         WHERE instance_id = $6 AND id = $7",
    )
    .bind(goal["status"].as_str().unwrap_or_default())
    .bind(priority_rank(goal["priority"].as_str().unwrap_or_default()))
    .bind(goal["name"].as_str().unwrap_or_default().to_lowercase())
    .bind(now_ms)
    .bind(goal.to_string())
    .bind(instance_id)
    .bind(goal["id"].as_str())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// A goal inside a write transaction, its row locked until the transaction ends.
pub async fn goal_for_update(
    tx: &mut Tx,
    instance_id: &str,
    patient_id: &str,
    id: &str,
) -> crate::store::sql::Result<Option<Value>> {
    let sql = format!(
        "SELECT body FROM care_plan_goals WHERE instance_id = $1 AND patient_id = $2 AND id = $3{}",
        tx.lock_rows()
    );
    let row =
        crate::store::sql::query(&sql).bind(instance_id).bind(patient_id).bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.map(|r| parse(&r.get::<String, _>("body"))))
}

pub async fn insert_goal_comment(
    tx: &mut Tx,
    instance_id: &str,
    goal_id: &str,
    comment: &Value,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO care_plan_goal_comments (id, instance_id, goal_id, created_at, body) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(comment["id"].as_str())
    .bind(instance_id)
    .bind(goal_id)
    .bind(now_ms)
    .bind(comment.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// The care plan, goals and goal comments of a patient go with the patient.
pub async fn delete_for_patient(tx: &mut Tx, instance_id: &str, patient_id: &str) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "DELETE FROM care_plan_goal_comments WHERE instance_id = $1 AND goal_id IN \
         (SELECT id FROM care_plan_goals WHERE instance_id = $1 AND patient_id = $2)",
    )
    .bind(instance_id)
    .bind(patient_id)
    .execute(&mut **tx)
    .await?;
    for table in ["care_plan_goals", "care_plans"] {
        crate::store::sql::query(&format!("DELETE FROM {table} WHERE instance_id = $1 AND patient_id = $2"))
            .bind(instance_id)
            .bind(patient_id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

impl Db {
    pub async fn care_plan(&self, instance_id: &str, patient_id: &str) -> crate::store::sql::Result<Option<Value>> {
        let row = crate::store::sql::query("SELECT body FROM care_plans WHERE instance_id = $1 AND patient_id = $2")
            .bind(instance_id)
            .bind(patient_id)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.map(|r| parse(&r.get::<String, _>("body"))))
    }

    pub async fn goal(
        &self,
        instance_id: &str,
        patient_id: &str,
        id: &str,
    ) -> crate::store::sql::Result<Option<Value>> {
        let row = crate::store::sql::query(
            "SELECT body FROM care_plan_goals WHERE instance_id = $1 AND patient_id = $2 AND id = $3",
        )
        .bind(instance_id)
        .bind(patient_id)
        .bind(id)
        .fetch_optional(self.reader())
        .await?;
        Ok(row.map(|r| parse(&r.get::<String, _>("body"))))
    }

    /// One page of a patient's goals, optionally with the given statuses, and the total.
    pub async fn goals(
        &self,
        instance_id: &str,
        patient_id: &str,
        statuses: Option<&[String]>,
        sorts: &[SortColumn],
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<Value>, i64)> {
        let mut w = Where::default();
        w.and("instance_id = ?", [Arg::Text(instance_id.into())]);
        w.and("patient_id = ?", [Arg::Text(patient_id.into())]);
        if let Some(list) = statuses {
            if list.is_empty() {
                w.and("1 = 0", []);
            } else {
                let marks = vec!["?"; list.len()].join(", ");
                w.and(&format!("status IN ({marks})"), list.iter().map(|s| Arg::Text(s.clone())));
            }
        }
        let count_sql = format!("SELECT COUNT(*) AS n FROM care_plan_goals{}", w.sql());
        let total: i64 = w.bind(crate::store::sql::query(&count_sql)).fetch_one(self.reader()).await?.get("n");
        let page_sql = format!(
            "SELECT body FROM care_plan_goals{}{} LIMIT {limit} OFFSET {offset}",
            w.sql(),
            order_by(sorts, "created_at")
        );
        let rows = w.bind(crate::store::sql::query(&page_sql)).fetch_all(self.reader()).await?;
        Ok((rows.iter().map(|r| parse(&r.get::<String, _>("body"))).collect(), total))
    }

    /// A goal's comments, oldest first.
    pub async fn goal_comments(&self, instance_id: &str, goal_id: &str) -> crate::store::sql::Result<Vec<Value>> {
        let rows = crate::store::sql::query(
            "SELECT body FROM care_plan_goal_comments WHERE instance_id = $1 AND goal_id = $2 ORDER BY created_at, id",
        )
        .bind(instance_id)
        .bind(goal_id)
        .fetch_all(self.reader())
        .await?;
        Ok(rows.iter().map(|r| parse(&r.get::<String, _>("body"))).collect())
    }
}
