//! Task bodies (rules: domain/task.rs, services/tasks.rs).

use super::common::{IdRef, TextBody};
use utoipa::ToSchema;

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    Todo,
    InProgress,
    Completed,
    Canceled,
}

#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskPriority {
    Low,
    Medium,
    High,
    Urgent,
}

/// A new task: `name`, `status`, `priority` and `assignee` are required.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({
    "name": "Call the patient", "description": "Follow up on the lab results", "status": "TODO",
    "priority": "MEDIUM", "dueDate": "2030-01-15T10:00:00.000Z",
    "assignee": {"id": "9f0a5c1e-3d2b-4c6a-8e7f-0123456789ab"}
}))]
pub struct TaskCreate {
    #[schema(min_length = 1)]
    pub name: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    pub priority: TaskPriority,
    pub assignee: IdRef,
    #[schema(format = DateTime)]
    pub due_date: Option<String>,
    /// The patient the task is about.
    pub patient: Option<IdRef>,
    #[schema(nullable = false)]
    pub watchers: Option<Vec<IdRef>>,
    #[schema(nullable = false)]
    pub comments: Option<Vec<TextBody>>,
    pub template_name: Option<String>,
}

/// A task PATCH: any of the create's fields but watchers and comments; `patient: null`
/// unlinks the task from its patient.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"status": "IN_PROGRESS", "priority": "HIGH"}))]
pub struct TaskUpdate {
    #[schema(min_length = 1, nullable = false)]
    pub name: Option<String>,
    pub description: Option<String>,
    #[schema(nullable = false)]
    pub status: Option<TaskStatus>,
    #[schema(nullable = false)]
    pub priority: Option<TaskPriority>,
    #[schema(nullable = false)]
    pub assignee: Option<IdRef>,
    #[schema(format = DateTime)]
    pub due_date: Option<String>,
    pub patient: Option<IdRef>,
    pub template_name: Option<String>,
}

/// One status for several tasks.
#[derive(ToSchema)]
#[schema(rename_all = "camelCase", example = json!({"taskIds": ["9f0a5c1e-3d2b-4c6a-8e7f-0123456789ab"], "status": "COMPLETED"}))]
pub struct TaskBulkStatus {
    #[schema(min_items = 1)]
    pub task_ids: Vec<String>,
    pub status: TaskStatus,
}
