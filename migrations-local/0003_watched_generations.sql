-- Generations this machine has seen unfinished (pending or processing). Only these raise a
-- notification when they finish: a first sync on a new machine brings old finished
-- generations, and those are history, not news. `notified_generations` (0002) records what was
-- already told.
CREATE TABLE watched_generations (
    generation_id TEXT PRIMARY KEY,
    seen_at       TEXT NOT NULL
);
