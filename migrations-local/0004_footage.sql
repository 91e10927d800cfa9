-- A project's footage (the server's `footage`, through the change feed), kept whole as its JSON
-- with the columns the app lists it by, so the footage of every project shows offline; and what
-- each upload is for (the project's track or its footage), so a clip is never taken for the track.
CREATE TABLE footage (
    id              TEXT PRIMARY KEY,
    project_id      TEXT NOT NULL,
    organization_id TEXT NOT NULL,
    position        INTEGER,
    data            TEXT NOT NULL,
    mark            INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX footage_by_project ON footage (project_id, position, id);

ALTER TABLE uploads ADD COLUMN purpose TEXT NOT NULL DEFAULT 'audio' CHECK (purpose IN ('audio', 'footage'));
