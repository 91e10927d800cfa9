-- The creator's tempo (issue 16, item 5): when the detected tempo is wrong (its confidence is
-- low, or it reads the half or the double), the creator taps, types, halves or doubles it in the
-- editor, and renders follow that value instead. NULL: the detected tempo.

ALTER TABLE public.projects ADD COLUMN tempo_bpm DECIMAL
  CONSTRAINT projects_tempo_bpm_check CHECK (tempo_bpm BETWEEN 30 AND 300);

GRANT INSERT (tempo_bpm), UPDATE (tempo_bpm) ON public.projects TO resonance_app;

-- A render's inputs carry it, snapshot at Generate like the rest (the worker reads only those).
CREATE OR REPLACE FUNCTION render.inputs_of(p public.projects) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'audio_key', (SELECT u.object_key FROM public.uploads u
                       WHERE u.object_key = p.audio_path AND u.project_id = p.id
                         AND u.organization_id = p.organization_id AND u.state = 'complete'
                       LIMIT 1),
        'prompt', p.prompt,
        'resolution', coalesce(p.resolution, '1080p'),
        'style_preference', coalesce(p.style_preference, 'organic'),
        'footage_visibility', coalesce(p.footage_visibility, 0.6)::float8,
        'effect_intensity', coalesce(p.effect_intensity, 0.5)::float8,
        'tempo_bpm', p.tempo_bpm::float8)
$$;
