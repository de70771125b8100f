-- Bulk export (GET /{tenant}/{instance}/export/{TYPE}, `openwelkin export`) pages each
-- table by (change time, id) from a cursor: one index per exported table on its scope
-- (and kind), the change time and the id. Tables whose rows are never changed page by
-- created_at. patients_by_updated (0001) already serves patients.
CREATE INDEX users_by_updated ON users (tenant_id, updated_at, id);
CREATE INDEX dt_records_by_kind_updated ON dt_records (instance_id, dt_kind, updated_at, id);
CREATE INDEX dictionary_records_by_updated ON dictionary_records (instance_id, updated_at, id);
CREATE INDEX contacts_by_updated ON contacts (instance_id, updated_at, id);
CREATE INDEX patient_programs_by_updated ON patient_programs (instance_id, updated_at, id);
CREATE INDEX tasks_by_updated ON tasks (instance_id, updated_at, id);
CREATE INDEX care_plans_by_updated ON care_plans (instance_id, updated_at, id);
CREATE INDEX care_plan_goals_by_updated ON care_plan_goals (instance_id, updated_at, id);
CREATE INDEX care_plan_goal_comments_by_created ON care_plan_goal_comments (instance_id, created_at, id);
CREATE INDEX calendar_events_by_updated ON calendar_events (instance_id, updated_at, id);
CREATE INDEX calendar_work_hours_by_updated ON calendar_work_hours (instance_id, updated_at, id);
CREATE INDEX assessment_records_by_updated ON assessment_records (instance_id, updated_at, id);
CREATE INDEX encounters_by_updated ON encounters (instance_id, updated_at, id);
CREATE INDEX encounter_comments_by_created ON encounter_comments (instance_id, created_at, id);
CREATE INDEX sms_messages_by_updated ON sms_messages (instance_id, updated_at, id);
CREATE INDEX communication_ids_by_updated ON communication_ids (instance_id, updated_at, id);
CREATE INDEX emails_by_updated ON emails (instance_id, updated_at, id);
CREATE INDEX email_drafts_by_updated ON email_drafts (instance_id, updated_at, id);
CREATE INDEX chat_messages_by_created ON chat_messages (instance_id, created_at, id);
CREATE INDEX calls_by_updated ON calls (instance_id, updated_at, id);
CREATE INDEX messaging_templates_by_updated ON messaging_templates (instance_id, updated_at, id);
CREATE INDEX communications_by_updated ON communications (instance_id, updated_at, id);
CREATE INDEX billing_records_by_kind_updated ON billing_records (instance_id, kind, updated_at, id);
