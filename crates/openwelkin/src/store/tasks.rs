//! Tasks of one instance: the task as JSON (watchers and comments included) plus the
//! columns the search filters and sorts use.

use super::query::{contains_pattern, order_by, Arg, SortColumn, Where};
use super::{Db, Tx};
use crate::domain::task::priority_rank;
use serde_json::Value;

/// The search filters of `GET /tasks`; every list combines with AND.
#[derive(Clone, Debug, Default)]
pub struct TaskFilter {
    pub assignee_ids: Option<Vec<String>>,
    pub patient_ids: Option<Vec<String>>,
    pub watcher_id: Option<String>,
    pub author_id: Option<String>,
    pub statuses: Option<Vec<String>>,
    pub priorities: Option<Vec<String>>,
    /// `[start, end)` of the due day.
    pub due_between: Option<(i64, i64)>,
    pub due_before: Option<i64>,
    pub description: Option<String>,
    pub search: Option<String>,
    /// Assignee or watcher.
    pub related_user_id: Option<String>,
    pub goal_id: Option<String>,
}

/// Sort fields of tasks. Tasks without a due date sort after the others on both
/// databases.
pub fn sort_column(field: &str) -> Option<&'static str> {
    Some(match field {
        "id" => "id",
        "createdAt" => "created_at",
        "updatedAt" => "updated_at",
        "dueDate" => "COALESCE(due_at, 9223372036854775807)",
        "name" => "name_key",
        "priority" => "priority_rank",
        "status" => "status",
        _ => return None,
    })
}

fn due_ms(task: &Value) -> Option<i64> {
    task["dueDate"].as_str().and_then(crate::time::parse_datetime).map(|t| t.timestamp_millis())
}

fn watchers(task: &Value) -> String {
    let ids = crate::domain::task::watcher_ids(task);
    if ids.is_empty() {
        String::new()
    } else {
        format!(",{},", ids.join(","))
    }
}

fn lower(task: &Value, key: &str) -> String {
    task[key].as_str().unwrap_or_default().to_lowercase()
}

pub async fn insert(
    tx: &mut Tx,
    tenant_id: &str,
    instance_id: &str,
    task: &Value,
    now_ms: i64,
) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "INSERT INTO tasks (id, tenant_id, instance_id, patient_id, goal_id, assignee_id, author_id, watchers, status, \
         priority, priority_rank, due_at, name_key, description_key, created_at, updated_at, body) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16)",
    )
    .bind(task["id"].as_str())
    .bind(tenant_id)
    .bind(instance_id)
    .bind(task["patient"]["id"].as_str())
    .bind(task["goalId"].as_str())
    .bind(task["assignee"]["id"].as_str())
    .bind(task["author"]["id"].as_str().unwrap_or_default())
    .bind(watchers(task))
    .bind(task["status"].as_str().unwrap_or_default())
    .bind(task["priority"].as_str().unwrap_or_default())
    .bind(priority_rank(task["priority"].as_str().unwrap_or_default()))
    .bind(due_ms(task))
    .bind(lower(task, "name"))
    .bind(lower(task, "description"))
    .bind(now_ms)
    .bind(task.to_string())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

pub async fn update(tx: &mut Tx, instance_id: &str, task: &Value, now_ms: i64) -> crate::store::sql::Result<()> {
    crate::store::sql::query(
        "UPDATE tasks SET patient_id = $1, assignee_id = $2, watchers = $3, status = $4, priority = $5, \
         priority_rank = $6, due_at = $7, name_key = $8, description_key = $9, updated_at = $10, body = $11 \
         WHERE instance_id = $12 AND id = $13",
    )
    .bind(task["patient"]["id"].as_str())
    .bind(task["assignee"]["id"].as_str())
    .bind(watchers(task))
    .bind(task["status"].as_str().unwrap_or_default())
    .bind(task["priority"].as_str().unwrap_or_default())
    .bind(priority_rank(task["priority"].as_str().unwrap_or_default()))
    .bind(due_ms(task))
    .bind(lower(task, "name"))
    .bind(lower(task, "description"))
    .bind(now_ms)
    .bind(task.to_string())
    .bind(instance_id)
    .bind(task["id"].as_str())
    .execute(&mut **tx)
    .await
    .map(|_| ())
}

/// A task inside a write transaction, its row locked until the transaction ends.
pub async fn get_for_update(tx: &mut Tx, instance_id: &str, id: &str) -> crate::store::sql::Result<Option<Value>> {
    let sql = format!("SELECT body FROM tasks WHERE instance_id = $1 AND id = $2{}", tx.lock_rows());
    let row = crate::store::sql::query(&sql).bind(instance_id).bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.map(|r| parse(&r.get::<String, _>("body"))))
}

/// A patient's tasks go with the patient.
pub async fn delete_for_patient(tx: &mut Tx, instance_id: &str, patient_id: &str) -> crate::store::sql::Result<u64> {
    Ok(crate::store::sql::query("DELETE FROM tasks WHERE instance_id = $1 AND patient_id = $2")
        .bind(instance_id)
        .bind(patient_id)
        .execute(&mut **tx)
        .await?
        .rows_affected())
}

fn parse(body: &str) -> Value {
    serde_json::from_str(body).expect("stored tasks are written by this server")
}

fn in_list(w: &mut Where, column: &str, values: &[String]) {
    if values.is_empty() {
        // An empty list matches nothing, as `IN ()` would.
        w.and("1 = 0", []);
        return;
    }
    let marks = vec!["?"; values.len()].join(", ");
    w.and(&format!("{column} IN ({marks})"), values.iter().map(|v| Arg::Text(v.clone())));
}

impl Db {
    pub async fn task(&self, instance_id: &str, id: &str) -> crate::store::sql::Result<Option<Value>> {
        let row = crate::store::sql::query("SELECT body FROM tasks WHERE instance_id = $1 AND id = $2")
            .bind(instance_id)
            .bind(id)
            .fetch_optional(self.reader())
            .await?;
        Ok(row.map(|r| parse(&r.get::<String, _>("body"))))
    }

    /// One page of tasks matching `filter`, and the total count.
    pub async fn tasks(
        &self,
        instance_id: &str,
        filter: &TaskFilter,
        sorts: &[SortColumn],
        offset: i64,
        limit: i64,
    ) -> crate::store::sql::Result<(Vec<Value>, i64)> {
        let mut w = Where::default();
        w.and("instance_id = ?", [Arg::Text(instance_id.into())]);
        if let Some(ids) = &filter.assignee_ids {
            in_list(&mut w, "assignee_id", ids);
        }
        if let Some(ids) = &filter.patient_ids {
            in_list(&mut w, "patient_id", ids);
        }
        if let Some(id) = &filter.watcher_id {
            w.and("watchers LIKE ?", [Arg::Text(format!("%,{id},%"))]);
        }
        if let Some(id) = &filter.author_id {
            w.and("author_id = ?", [Arg::Text(id.clone())]);
        }
        if let Some(list) = &filter.statuses {
            in_list(&mut w, "status", list);
        }
        if let Some(list) = &filter.priorities {
            in_list(&mut w, "priority", list);
        }
        if let Some((start, end)) = filter.due_between {
            w.and("due_at >= ? AND due_at < ?", [Arg::Int(start), Arg::Int(end)]);
        }
        if let Some(before) = filter.due_before {
            w.and("due_at < ?", [Arg::Int(before)]);
        }
        if let Some(d) = &filter.description {
            w.and("description_key LIKE ? ESCAPE '\\'", [Arg::Text(contains_pattern(d))]);
        }
        if let Some(s) = &filter.search {
            let p = contains_pattern(s);
            w.and(
                "(name_key LIKE ? ESCAPE '\\' OR description_key LIKE ? ESCAPE '\\')",
                [Arg::Text(p.clone()), Arg::Text(p)],
            );
        }
        if let Some(id) = &filter.related_user_id {
            w.and("(assignee_id = ? OR watchers LIKE ?)", [Arg::Text(id.clone()), Arg::Text(format!("%,{id},%"))]);
        }
        if let Some(id) = &filter.goal_id {
            w.and("goal_id = ?", [Arg::Text(id.clone())]);
        }
        let count_sql = format!("SELECT COUNT(*) AS n FROM tasks{}", w.sql());
        let total: i64 = w.bind(crate::store::sql::query(&count_sql)).fetch_one(self.reader()).await?.get("n");
        let page_sql =
            format!("SELECT body FROM tasks{}{} LIMIT {limit} OFFSET {offset}", w.sql(), order_by(sorts, "created_at"));
        let rows = w.bind(crate::store::sql::query(&page_sql)).fetch_all(self.reader()).await?;
        Ok((rows.iter().map(|r| parse(&r.get::<String, _>("body"))).collect(), total))
    }

    /// The tasks of a goal, oldest first.
    pub async fn goal_tasks(&self, instance_id: &str, goal_id: &str) -> crate::store::sql::Result<Vec<Value>> {
        let filter = TaskFilter { goal_id: Some(goal_id.to_string()), ..Default::default() };
        Ok(self.tasks(instance_id, &filter, &[], 0, i64::from(i32::MAX)).await?.0)
    }

    /// `{id, name}` of the patients among `ids` (current names, for rendering tasks).
    pub async fn patient_names(
        &self,
        instance_id: &str,
        ids: &[String],
    ) -> crate::store::sql::Result<Vec<(String, String)>> {
        if ids.is_empty() {
            return Ok(vec![]);
        }
        let mut w = Where::default();
        w.and("instance_id = ?", [Arg::Text(instance_id.into())]);
        in_list(&mut w, "id", ids);
        let sql = format!("SELECT id, first_name, last_name FROM patients{}", w.sql());
        let rows = w.bind(crate::store::sql::query(&sql)).fetch_all(self.reader()).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let first: String = r.get("first_name");
                let last: String = r.get("last_name");
                (r.get("id"), format!("{first} {last}"))
            })
            .collect())
    }
}
