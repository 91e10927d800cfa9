-- The mirror of what the signed-in user may see on the server: the five tables of the change
-- feed. Each row is kept whole as the server's JSON (`data`), with the columns the app sorts,
-- searches and joins on beside it. `mark` is the pull that last wrote the row: a reset rebuild
-- rewrites every row with a new mark, then sweeps the rows left with an older one, so the user
-- never looks at an empty list while it runs. No foreign keys between mirrored tables: the
-- server keeps them, and a page must apply whatever order its changes come in.

CREATE TABLE organizations (
    id   TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    mark INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE users (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    email           TEXT NOT NULL,
    data            TEXT NOT NULL,
    mark            INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE projects (
    id              TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL,
    name            TEXT NOT NULL,
    updated_at      TEXT,
    data            TEXT NOT NULL,
    mark            INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX projects_by_update ON projects (updated_at DESC, id);

CREATE TABLE generations (
    id                TEXT PRIMARY KEY,
    project_id        TEXT,
    organization_id   TEXT NOT NULL,
    generation_number INTEGER,
    data              TEXT NOT NULL,
    mark              INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX generations_by_project ON generations (project_id, generation_number);

CREATE TABLE system_logs (
    id              TEXT PRIMARY KEY,
    organization_id TEXT,
    created_at      TEXT,
    data            TEXT NOT NULL,
    mark            INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX system_logs_by_time ON system_logs (created_at DESC, id);

-- One row: where the feed was left, and how the last pull went.
CREATE TABLE sync_state (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    cursor          TEXT,
    -- The mark the current or last pull writes with.
    mark            INTEGER NOT NULL DEFAULT 0,
    -- Set while a reset rebuild runs: rows with a mark below it are swept when it completes.
    rebuild_from    INTEGER,
    last_success_at TEXT,
    last_error      TEXT,
    -- What kind of failure last_error is (ClientError::kind): offline, signed_out, refused, …
    last_error_kind TEXT
);
INSERT INTO sync_state (id) VALUES (1);
