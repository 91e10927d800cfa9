-- How far the render of a job has come (0..1), published by the worker while it renders.
ALTER TABLE render.jobs ADD COLUMN progress real NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1);
