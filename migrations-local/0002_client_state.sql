-- The client's own state beside the mirror.

-- Writes made on this machine, in the order they were made, until the server has them. The
-- entry is written in the same transaction as the local change. `id` is sent as the
-- Idempotency-Key, so a retry after a lost answer is never applied twice.
CREATE TABLE outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT NOT NULL UNIQUE,
    -- create_project | edit_project | delete_project
    kind            TEXT NOT NULL,
    project_id      TEXT NOT NULL,
    -- The request body (JSON), or NULL for a delete.
    payload         TEXT,
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT,
    -- pending | conflict (refused for good; kept until the user retries or discards it)
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'conflict')),
    last_error      TEXT,
    last_error_kind TEXT,
    -- For a conflict: the server's version of the project when it refused (JSON), kept beside
    -- the local one until the user resolves it.
    server_version  TEXT
);
CREATE INDEX outbox_by_project ON outbox (project_id, seq);

-- Resumable uploads: where each file stands on the server.
CREATE TABLE uploads (
    id          TEXT PRIMARY KEY,
    project_id  TEXT NOT NULL,
    path        TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    size        INTEGER NOT NULL,
    upload_url  TEXT,
    offset      INTEGER NOT NULL DEFAULT 0,
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'paused', 'done', 'failed')),
    last_error  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

-- Rendered videos and thumbnails kept on disk for offline viewing.
CREATE TABLE media_cache (
    generation_id TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('video', 'thumbnail')),
    path          TEXT NOT NULL,
    size          INTEGER NOT NULL,
    last_used_at  TEXT NOT NULL,
    PRIMARY KEY (generation_id, kind)
);

-- Generations the user was already told about, so a notification is shown once.
CREATE TABLE notified_generations (
    generation_id TEXT PRIMARY KEY,
    notified_at   TEXT NOT NULL
);
