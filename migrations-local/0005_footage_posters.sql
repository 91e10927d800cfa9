-- Footage posters join the media cache (kept under the same cap, evicted least recently used
-- first), so a project's footage list shows its pictures offline. The cache is keyed by the
-- generation's id for a video or thumbnail and by the footage item's id for a poster. SQLite
-- cannot widen a CHECK in place: the table is rebuilt with what it held.
CREATE TABLE media_cache_new (
    generation_id TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('video', 'thumbnail', 'poster')),
    path          TEXT NOT NULL,
    size          INTEGER NOT NULL,
    last_used_at  TEXT NOT NULL,
    PRIMARY KEY (generation_id, kind)
);
INSERT INTO media_cache_new (generation_id, kind, path, size, last_used_at)
    SELECT generation_id, kind, path, size, last_used_at FROM media_cache;
DROP TABLE media_cache;
ALTER TABLE media_cache_new RENAME TO media_cache;
