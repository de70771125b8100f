-- Lists that do not scan (issue 12), for every list other than patients (0015).
--
-- Each list reads one index: its equality scope first (instance or tenant, then the
-- patient, goal, encounter… it lists), then its default sort, then the id that breaks
-- ties (`order_by` appends `id ASC`; fixed orders end with `id` too). An index that
-- stopped at the sort column made SQLite sort every match in a temporary b-tree ("USE
-- TEMP B-TREE FOR LAST TERM OF ORDER BY") and PostgreSQL add an incremental sort.
-- tests/list_plans.rs checks the SQLite plan of each list query.

-- 1. Indexes of 0002–0013 that stopped before the id: replaced by the same index ending
--    with it (same name, same leading columns, so every other query keeps its index).
DROP INDEX IF EXISTS tasks_by_assignee;
CREATE INDEX IF NOT EXISTS tasks_by_assignee ON tasks (instance_id, assignee_id, created_at, id);
DROP INDEX IF EXISTS tasks_by_patient;
CREATE INDEX IF NOT EXISTS tasks_by_patient ON tasks (instance_id, patient_id, created_at, id);
DROP INDEX IF EXISTS tasks_by_goal;
CREATE INDEX IF NOT EXISTS tasks_by_goal ON tasks (instance_id, goal_id, created_at, id);
DROP INDEX IF EXISTS calendar_events_by_start;
CREATE INDEX IF NOT EXISTS calendar_events_by_start ON calendar_events (instance_id, start_at, id);
DROP INDEX IF EXISTS encounters_by_patient;
CREATE INDEX IF NOT EXISTS encounters_by_patient ON encounters (instance_id, patient_id, created_at, id);
DROP INDEX IF EXISTS encounters_by_owner;
CREATE INDEX IF NOT EXISTS encounters_by_owner ON encounters (instance_id, owner_user_id, created_at, id);
DROP INDEX IF EXISTS encounter_comments_by_encounter;
CREATE INDEX IF NOT EXISTS encounter_comments_by_encounter ON encounter_comments (instance_id, encounter_id, created_at, id);
DROP INDEX IF EXISTS assessment_records_by_patient;
CREATE INDEX IF NOT EXISTS assessment_records_by_patient ON assessment_records (instance_id, patient_id, created_at, id);
DROP INDEX IF EXISTS dt_records_by_patient;
CREATE INDEX IF NOT EXISTS dt_records_by_patient ON dt_records (instance_id, patient_id, dt_kind, dt_name, created_at, id);
DROP INDEX IF EXISTS contacts_by_patient;
CREATE INDEX IF NOT EXISTS contacts_by_patient ON contacts (instance_id, patient_id, created_at, id);
DROP INDEX IF EXISTS patient_programs_by_patient;
CREATE INDEX IF NOT EXISTS patient_programs_by_patient ON patient_programs (instance_id, patient_id, created_at, id);
DROP INDEX IF EXISTS dictionary_records_by_name;
CREATE INDEX IF NOT EXISTS dictionary_records_by_name ON dictionary_records (instance_id, dictionary_name, created_at, id);
DROP INDEX IF EXISTS billing_records_by_patient;
CREATE INDEX IF NOT EXISTS billing_records_by_patient ON billing_records (instance_id, kind, patient_id, created_at, id);
DROP INDEX IF EXISTS webhook_attempts_by_tenant;
CREATE INDEX IF NOT EXISTS webhook_attempts_by_tenant ON webhook_attempts (tenant_id, sent_at, id);

-- 2. Lists whose default order had no index at all.
-- Work hours of an instance, oldest first (Db::work_hours_in_range without users).
CREATE INDEX IF NOT EXISTS calendar_work_hours_by_created ON calendar_work_hours (instance_id, created_at, id);
-- Records of a CDT or PDT across patients, oldest first (Db::records without a patient).
CREATE INDEX IF NOT EXISTS dt_records_by_type_created ON dt_records (instance_id, dt_kind, dt_name, created_at, id);
-- Billing records of a kind, oldest first (billing::listing without a patient).
CREATE INDEX IF NOT EXISTS billing_records_by_kind_created ON billing_records (instance_id, kind, created_at, id);
-- Communication ids of an instance, oldest first (Db::communication_ids).
CREATE INDEX IF NOT EXISTS communication_ids_by_created ON communication_ids (instance_id, created_at, id);
-- Data and security audit of a tenant, newest first (`ORDER BY seq DESC`).
CREATE INDEX IF NOT EXISTS audit_data_by_tenant_seq ON audit_data (tenant_id, seq);
CREATE INDEX IF NOT EXISTS audit_security_by_tenant_seq ON audit_security (tenant_id, seq);
-- The encounter on a calendar event: the events list without encounter events asks it
-- for every event (NOT EXISTS), and Db::encounters_on_events for a page of events.
CREATE INDEX IF NOT EXISTS encounters_by_calendar_event ON encounters (instance_id, calendar_event_id);
-- The local outboxes of one recipient (`?to=`), oldest first (Db::sms_outbox,
-- Db::email_outbox).
CREATE INDEX IF NOT EXISTS sms_outbox_by_to ON sms_outbox (instance_id, to_phone, queued_at, id);
CREATE INDEX IF NOT EXISTS email_outbox_by_to ON email_outbox (instance_id, to_key, created_at, id);
