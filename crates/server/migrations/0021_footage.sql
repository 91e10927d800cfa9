-- A project's footage (issue 18, item 1): the creator's clips and stills, uploaded over the same
-- tus path as audio (`uploads.purpose = 'footage'`), each kept in a folder of its own,
-- `<organization>/<project>/footage/<id>/` (`source.<ext>` and `poster.jpg`), and listed here.
-- Invariants: a footage row is the finished upload of the same id in the same project (so no
-- client can list an object it did not upload); audio stays audio (a footage upload is never a
-- project's track nor a render's audio); an organization holds at most its plan's count and
-- bytes of footage, checked under its row's lock.

ALTER TABLE public.uploads ADD COLUMN purpose text NOT NULL DEFAULT 'audio'
    CONSTRAINT uploads_purpose_check CHECK (purpose IN ('audio', 'footage'));
-- Why a failed upload was refused (`resonance_api::ErrorCode`), so asking again says the same.
ALTER TABLE public.uploads ADD COLUMN refusal text;
-- An upload is for a project of its own organization.
ALTER POLICY uploads_write ON public.uploads
    WITH CHECK (organization_id = (SELECT auth_private.current_org())
                AND (SELECT auth_private.current_rank()) >= auth_private.role_rank('developer')
                AND EXISTS (SELECT 1 FROM public.projects p
                             WHERE p.id = uploads.project_id AND p.organization_id = uploads.organization_id));

CREATE TABLE public.footage (
    -- The upload's id: each item's folder is its own, so deleting one never touches a copy.
    id              uuid PRIMARY KEY,
    organization_id uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
    project_id      uuid NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
    user_id         uuid NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('video', 'image')),
    filename        text,
    object_key      text NOT NULL,
    poster_key      text NOT NULL,
    sha256          text NOT NULL,
    size            bigint NOT NULL CHECK (size > 0),
    -- Seconds of a clip; NULL for a still.
    duration        double precision CHECK (duration > 0),
    width           integer NOT NULL CHECK (width > 0),
    height          integer NOT NULL CHECK (height > 0),
    codec           text NOT NULL,
    -- Order in the project's list, from 0.
    position        integer NOT NULL CHECK (position >= 0),
    -- The part of a clip to use (NULL: from its start, to its end).
    in_point        double precision,
    out_point       double precision,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT footage_duration_of_clips CHECK ((kind = 'video') = (duration IS NOT NULL)),
    CONSTRAINT footage_points_of_clips CHECK (kind = 'video' OR (in_point IS NULL AND out_point IS NULL)),
    -- The part used lasts at least 0.1 s (`resonance_api::footage::MIN_CLIP_SECONDS`; the API
    -- checks it first, a little more strictly) and lies within the clip.
    CONSTRAINT footage_in_point_check CHECK (in_point IS NULL OR (
        in_point >= 0 AND coalesce(out_point, duration) - in_point >= 0.1 - 1e-6)),
    CONSTRAINT footage_out_point_check CHECK (out_point IS NULL OR (
        out_point <= duration + 0.001 AND out_point - coalesce(in_point, 0) >= 0.1 - 1e-6)),
    -- Its files are in its own folder of its own project.
    CONSTRAINT footage_object_key_check CHECK (
        object_key LIKE organization_id || '/' || project_id || '/footage/' || id || '/source.%'),
    CONSTRAINT footage_poster_key_check CHECK (
        poster_key = organization_id || '/' || project_id || '/footage/' || id || '/poster.jpg'),
    CONSTRAINT footage_once_per_project UNIQUE (project_id, sha256)
);
CREATE INDEX footage_organization_id_id_idx ON public.footage (organization_id, id);
CREATE INDEX footage_project_position ON public.footage (project_id, position, id);

ALTER TABLE public.footage ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Org isolation: read" ON public.footage FOR SELECT TO resonance_app
    USING (organization_id = (SELECT auth_private.current_org()));
CREATE POLICY "Developers add uploaded footage" ON public.footage FOR INSERT TO resonance_app
    WITH CHECK (organization_id = (SELECT auth_private.current_org())
                AND (SELECT auth_private.current_rank()) >= auth_private.role_rank('developer')
                AND EXISTS (SELECT 1 FROM public.projects p
                             WHERE p.id = footage.project_id AND p.organization_id = footage.organization_id)
                AND EXISTS (SELECT 1 FROM public.uploads u
                             WHERE u.id = footage.id AND u.project_id = footage.project_id
                               AND u.organization_id = footage.organization_id
                               AND u.purpose = 'footage' AND u.state = 'complete'));
CREATE POLICY "Developers arrange footage" ON public.footage FOR UPDATE TO resonance_app
    USING (organization_id = (SELECT auth_private.current_org())
           AND (SELECT auth_private.current_rank()) >= auth_private.role_rank('developer'))
    WITH CHECK (organization_id = (SELECT auth_private.current_org()));
CREATE POLICY "Developers remove footage" ON public.footage FOR DELETE TO resonance_app
    USING (organization_id = (SELECT auth_private.current_org())
           AND (SELECT auth_private.current_rank()) >= auth_private.role_rank('developer'));
GRANT SELECT, DELETE ON public.footage TO resonance_app;
GRANT INSERT (id, organization_id, project_id, user_id, kind, filename, object_key, poster_key, sha256, size,
              duration, width, height, codec, position, in_point, out_point)
    ON public.footage TO resonance_app;
GRANT UPDATE (position, in_point, out_point, updated_at) ON public.footage TO resonance_app;

-- The sync feed carries it (scanned last: a cursor holds a table's index).
ALTER TABLE sync.row_versions DROP CONSTRAINT row_versions_table_name_check;
ALTER TABLE sync.row_versions ADD CONSTRAINT row_versions_table_name_check
    CHECK (table_name IN ('organizations', 'users', 'projects', 'generations', 'system_logs', 'footage'));
CREATE TRIGGER footage_sync AFTER INSERT OR UPDATE OR DELETE ON public.footage
    FOR EACH ROW EXECUTE FUNCTION sync.record_change();

-- A removed item's folder is deleted with it.
CREATE OR REPLACE FUNCTION maintenance.doom_objects() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    doomed text;
BEGIN
    -- One statement per table: each reads only fields its table has.
    IF TG_TABLE_NAME = 'organizations' THEN
        doomed := OLD.id::text;
    ELSIF TG_TABLE_NAME = 'projects' THEN
        doomed := OLD.organization_id || '/' || OLD.id;
    ELSIF TG_TABLE_NAME = 'footage' THEN
        doomed := OLD.organization_id || '/' || OLD.project_id || '/footage/' || OLD.id;
    ELSE
        doomed := '_uploads/' || OLD.id;
    END IF;
    INSERT INTO maintenance.doomed_objects (prefix) VALUES (doomed) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER footage_doom_objects AFTER DELETE ON public.footage
    FOR EACH ROW EXECUTE FUNCTION maintenance.doom_objects();

-- Limits per plan, written from `resonance_api::plans::PLANS` at every start.
ALTER TABLE billing.plans ADD COLUMN max_footage_items integer NOT NULL DEFAULT 0,
                          ADD COLUMN max_footage_bytes bigint NOT NULL DEFAULT 0;

-- Whether the caller's organization may keep `p_items` more items of `p_bytes` more bytes:
-- raises 402 `plan_limit` naming the plan's limits and what is used, else returns nothing. The
-- organization's row stays locked (NO KEY UPDATE: rows that refer to it are still written) to the
-- end of the caller's transaction, so two uploads finishing at once cannot both take the last room.
CREATE FUNCTION auth_private.footage_room(p_items integer, p_bytes bigint) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    me record;
    org public.organizations;
    plan billing.plans;
    used_items bigint;
    used_bytes bigint;
BEGIN
    SELECT * INTO me FROM auth_private.caller();
    IF NOT FOUND THEN
        RAISE EXCEPTION 'Sign in again.' USING ERRCODE = 'RZ403';
    END IF;
    SELECT * INTO org FROM public.organizations o WHERE o.id = me.organization_id FOR NO KEY UPDATE;
    SELECT * INTO plan FROM billing.plans bp WHERE bp.id = coalesce(org.subscription_plan, 'free');
    IF NOT FOUND THEN
        SELECT * INTO plan FROM billing.plans bp WHERE bp.id = 'free';
    END IF;
    SELECT count(*), coalesce(sum(f.size), 0) INTO used_items, used_bytes
      FROM public.footage f WHERE f.organization_id = me.organization_id;
    IF used_items + p_items > plan.max_footage_items THEN
        RAISE EXCEPTION 'The % plan keeps % footage items, and all % are used. Remove some, or upgrade.',
            plan.name, plan.max_footage_items, used_items
            USING ERRCODE = 'RZ402', HINT = 'plan_limit';
    END IF;
    IF used_bytes + p_bytes > plan.max_footage_bytes THEN
        RAISE EXCEPTION 'The % plan keeps % of footage; % are used and this file is %. Remove some, or upgrade.',
            plan.name, pg_size_pretty(plan.max_footage_bytes), pg_size_pretty(used_bytes), pg_size_pretty(p_bytes)
            USING ERRCODE = 'RZ402', HINT = 'plan_limit';
    END IF;
END $$;
REVOKE ALL ON FUNCTION auth_private.footage_room(integer, bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_private.footage_room(integer, bigint) TO resonance_app;

-- Audio stays audio: a project's track, and so a render's audio, is a finished *audio* upload.
CREATE OR REPLACE FUNCTION auth_private.check_audio_path() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.audio_path IS NOT DISTINCT FROM OLD.audio_path THEN
        RETURN NEW;
    END IF;
    IF NEW.audio_path ~ '[/\\]' AND NOT EXISTS (
        SELECT 1 FROM public.uploads u
         WHERE u.object_key = NEW.audio_path AND u.project_id = NEW.id
           AND u.organization_id = NEW.organization_id AND u.state = 'complete' AND u.purpose = 'audio')
    THEN
        RAISE EXCEPTION 'audio_path: give the file''s name; the server names the stored audio when its upload finishes.'
            USING ERRCODE = 'RZ422', HINT = 'audio_path';
    END IF;
    RETURN NEW;
END $$;

-- A render's inputs carry the project's footage in its order, as it stood when it was started.
CREATE OR REPLACE FUNCTION render.inputs_of(p public.projects) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'audio_key', (SELECT u.object_key FROM public.uploads u
                       WHERE u.object_key = p.audio_path AND u.project_id = p.id
                         AND u.organization_id = p.organization_id AND u.state = 'complete'
                         AND u.purpose = 'audio'
                       LIMIT 1),
        'prompt', p.prompt,
        'resolution', coalesce(p.resolution, '1080p'),
        'aspect', p.aspect,
        'style_preference', coalesce(p.style_preference, 'organic'),
        'footage_visibility', coalesce(p.footage_visibility, 0.6)::float8,
        'effect_intensity', coalesce(p.effect_intensity, 0.5)::float8,
        'tempo_bpm', p.tempo_bpm::float8,
        'footage', coalesce((
            SELECT jsonb_agg(jsonb_build_object(
                       'id', f.id, 'kind', f.kind, 'object_key', f.object_key, 'duration', f.duration,
                       'width', f.width, 'height', f.height, 'in_point', f.in_point, 'out_point', f.out_point)
                     ORDER BY f.position, f.id)
              FROM public.footage f
             WHERE f.project_id = p.id AND f.organization_id = p.organization_id), '[]'::jsonb))
$$;
