-- New projects being written: the form as the creator left it, kept while it is being written
-- so that a crash or a restart loses nothing, until the project is created (its id is the
-- draft's) or the draft is discarded. Local only: drafts never reach the server.
CREATE TABLE drafts (
    id         TEXT PRIMARY KEY,
    updated_at TEXT NOT NULL,
    body       TEXT NOT NULL
);
