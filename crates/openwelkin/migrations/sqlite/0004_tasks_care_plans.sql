-- Tasks (with their watchers and comments inside the body), care plans (one per patient,
-- holding the patient overview), care plan goals made from goal templates, and goal
-- comments.

CREATE TABLE tasks (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    instance_id     TEXT NOT NULL REFERENCES instances(id),
    patient_id      TEXT,
    goal_id         TEXT,
    assignee_id     TEXT,
    author_id       TEXT NOT NULL,
    -- Watcher user ids as `,a,b,` (empty when none), for the watcher filters.
    watchers        TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL,
    priority        TEXT NOT NULL,
    -- LOW 1, MEDIUM 2, HIGH 3, URGENT 4: sorting by priority sorts by urgency.
    priority_rank   BIGINT NOT NULL,
    due_at          BIGINT,
    name_key        TEXT NOT NULL,
    description_key TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    body            TEXT NOT NULL
);
CREATE INDEX tasks_by_created ON tasks (instance_id, created_at, id);
CREATE INDEX tasks_by_assignee ON tasks (instance_id, assignee_id, created_at);
CREATE INDEX tasks_by_patient ON tasks (instance_id, patient_id, created_at);
CREATE INDEX tasks_by_goal ON tasks (instance_id, goal_id, created_at);

CREATE TABLE care_plans (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL,
    instance_id  TEXT NOT NULL REFERENCES instances(id),
    patient_id   TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    body         TEXT NOT NULL
);
CREATE UNIQUE INDEX care_plans_one_per_patient ON care_plans (instance_id, patient_id);

CREATE TABLE care_plan_goals (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    instance_id    TEXT NOT NULL REFERENCES instances(id),
    patient_id     TEXT NOT NULL,
    status         TEXT NOT NULL,
    priority_rank  BIGINT NOT NULL,
    name_key       TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    body           TEXT NOT NULL
);
CREATE INDEX care_plan_goals_by_patient ON care_plan_goals (instance_id, patient_id, created_at, id);

CREATE TABLE care_plan_goal_comments (
    id           TEXT PRIMARY KEY,
    instance_id  TEXT NOT NULL REFERENCES instances(id),
    goal_id      TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    body         TEXT NOT NULL
);
CREATE INDEX care_plan_goal_comments_by_goal ON care_plan_goal_comments (instance_id, goal_id, created_at, id);
