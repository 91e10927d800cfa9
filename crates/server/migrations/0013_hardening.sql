-- Hardening after the live probe (issue 14).
--
-- 1. A project's `audio_path` names stored audio only when the server put it there: a value
--    shaped like a storage key must be the object of a finished upload of that very project.
--    Clients send the file's name; the upload names the object.
-- 2. A generation keeps the inputs that were checked when it was started (`render.jobs.inputs`):
--    the audio's object, the prompt and the look. The worker renders those and never re-reads the
--    project, so a later edit cannot lift a render above the plan's resolution.
-- 3. Seeds are unique per organization, not across organizations.
-- 4. Nothing in a private schema is executable by PUBLIC; each role is granted what it calls.
-- 5. Objects of deleted projects, organizations and uploads are queued for deletion
--    (`maintenance.doomed_objects`), and each server instance's maintenance task deletes them.
-- 6. Sign-in failures are counted per e-mail and client address.

-- 1. ------------------------------------------------------------------------------------------
CREATE FUNCTION auth_private.check_audio_path() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.audio_path IS NOT DISTINCT FROM OLD.audio_path THEN
        RETURN NEW;
    END IF;
    IF NEW.audio_path ~ '[/\\]' AND NOT EXISTS (
        SELECT 1 FROM public.uploads u
         WHERE u.object_key = NEW.audio_path AND u.project_id = NEW.id
           AND u.organization_id = NEW.organization_id AND u.state = 'complete')
    THEN
        RAISE EXCEPTION 'audio_path: give the file''s name; the server names the stored audio when its upload finishes.'
            USING ERRCODE = 'RZ422', HINT = 'audio_path';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER projects_audio_path BEFORE INSERT OR UPDATE OF audio_path ON public.projects
    FOR EACH ROW EXECUTE FUNCTION auth_private.check_audio_path();

-- 2. ------------------------------------------------------------------------------------------
ALTER TABLE render.jobs ADD COLUMN inputs jsonb;

-- The inputs a render of this project would use now; `audio_key` is null unless the project's
-- audio is a finished upload of its own.
CREATE FUNCTION render.inputs_of(p public.projects) RETURNS jsonb
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
        'effect_intensity', coalesce(p.effect_intensity, 0.5)::float8)
$$;

-- Jobs still to render take their project's inputs as they stand.
UPDATE render.jobs j SET inputs = render.inputs_of(p)
  FROM public.projects p WHERE p.id = j.project_id AND j.state IN ('queued', 'running');

-- 3. ------------------------------------------------------------------------------------------
ALTER TABLE public.generations DROP CONSTRAINT generations_seed_key;
ALTER TABLE public.generations ADD CONSTRAINT generations_organization_seed_key UNIQUE (organization_id, seed);
DROP INDEX public.generations_render_seed;
CREATE INDEX generations_render_seed ON public.generations (organization_id, render.render_seed(seed));

CREATE OR REPLACE FUNCTION auth_private.start_generation(p_project uuid, p_seed text)
RETURNS SETOF public.generations
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    me record;
    org public.organizations;
    plan billing.plans;
    project public.projects;
    next_number integer;
    stored_seed text;
    reruns integer;
    made public.generations;
BEGIN
    SELECT * INTO me FROM auth_private.caller();
    IF NOT FOUND THEN
        RAISE EXCEPTION 'Sign in again.' USING ERRCODE = 'RZ403';
    END IF;
    IF auth_private.role_rank(me.role) < auth_private.role_rank('developer') THEN
        RAISE EXCEPTION 'Viewers cannot start generations; ask an admin for the developer role.'
            USING ERRCODE = 'RZ403';
    END IF;
    PERFORM 1 FROM public.organizations o WHERE o.id = me.organization_id FOR UPDATE;
    PERFORM billing.roll_calendar_month(me.organization_id, 'generation');
    SELECT * INTO org FROM public.organizations o WHERE o.id = me.organization_id;
    SELECT * INTO project
      FROM public.projects p WHERE p.id = p_project AND p.organization_id = me.organization_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'No such project in your organization.' USING ERRCODE = 'RZ404';
    END IF;
    IF org.subscription_status = 'trialing' THEN
        IF org.trial_ends_at IS NOT NULL AND org.trial_ends_at <= now() THEN
            RAISE EXCEPTION 'The free trial ended on %. Subscribe to keep generating.',
                to_char(org.trial_ends_at AT TIME ZONE 'UTC', 'FMDD FMMonth YYYY')
                USING ERRCODE = 'RZ402', HINT = 'trial_ended';
        END IF;
    ELSIF org.subscription_status IS DISTINCT FROM 'active' THEN
        RAISE EXCEPTION 'The subscription is %: generating needs an active subscription.',
            replace(coalesce(org.subscription_status, 'missing'), '_', ' ')
            USING ERRCODE = 'RZ402', HINT = 'subscription_inactive';
    END IF;
    SELECT * INTO plan FROM billing.plans bp WHERE bp.id = coalesce(org.subscription_plan, 'free');
    IF FOUND AND billing.resolution_rank(coalesce(project.resolution, '1080p')) > billing.resolution_rank(plan.max_resolution) THEN
        RAISE EXCEPTION 'The % plan renders up to %, and this project is set to %. Choose a lower resolution or upgrade.',
            plan.name, plan.max_resolution, project.resolution
            USING ERRCODE = 'RZ402', HINT = 'plan_limit';
    END IF;
    IF coalesce(org.generations_this_month, 0) >= coalesce(org.generations_limit, 0) THEN
        RAISE EXCEPTION 'All % generations of this month are used. More come with the next month or a larger plan.',
            coalesce(org.generations_limit, 0)
            USING ERRCODE = 'RZ402', HINT = 'quota_exceeded';
    END IF;
    UPDATE public.organizations o
       SET generations_this_month = coalesce(o.generations_this_month, 0) + 1, updated_at = now()
     WHERE o.id = org.id;
    SELECT coalesce(max(g.generation_number), 0) + 1 INTO next_number
      FROM public.generations g WHERE g.project_id = p_project;
    IF p_seed IS NULL THEN
        stored_seed := substr(replace(gen_random_uuid()::text, '-', ''), 1, 16);
    ELSE
        -- The organization row is locked, so no other start of this organization races this one.
        SELECT count(*) INTO reruns FROM public.generations g
         WHERE g.organization_id = me.organization_id AND render.render_seed(g.seed) = p_seed;
        stored_seed := CASE WHEN reruns = 0 THEN p_seed ELSE p_seed || '~' || (reruns + 1) END;
        -- A deleted project's generations free their numbers: take the next one still free.
        WHILE EXISTS (SELECT 1 FROM public.generations g
                       WHERE g.organization_id = me.organization_id AND g.seed = stored_seed) LOOP
            reruns := reruns + 1;
            stored_seed := p_seed || '~' || (reruns + 1);
        END LOOP;
    END IF;
    INSERT INTO public.generations (project_id, organization_id, user_id, seed, generation_number, status)
    VALUES (p_project, me.organization_id, auth.uid(), stored_seed, next_number, 'pending')
    RETURNING * INTO made;
    INSERT INTO render.jobs (generation_id, organization_id, project_id, inputs)
    VALUES (made.id, me.organization_id, p_project, render.inputs_of(project));
    UPDATE public.projects p SET status = 'queued', updated_at = now() WHERE p.id = p_project;
    RETURN NEXT made;
END $$;

-- 5. ------------------------------------------------------------------------------------------
CREATE SCHEMA maintenance;
REVOKE ALL ON SCHEMA maintenance FROM PUBLIC;

-- Prefixes in object storage whose every object is to be deleted.
CREATE TABLE maintenance.doomed_objects (
    prefix    text PRIMARY KEY,
    queued_at timestamptz NOT NULL DEFAULT now()
);

CREATE FUNCTION maintenance.doom_objects() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    doomed text;
BEGIN
    -- One statement per table: each reads only fields its table has.
    IF TG_TABLE_NAME = 'organizations' THEN
        doomed := OLD.id::text;
    ELSIF TG_TABLE_NAME = 'projects' THEN
        doomed := OLD.organization_id || '/' || OLD.id;
    ELSE
        doomed := '_uploads/' || OLD.id;
    END IF;
    INSERT INTO maintenance.doomed_objects (prefix) VALUES (doomed) ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;
CREATE TRIGGER organizations_doom_objects AFTER DELETE ON public.organizations
    FOR EACH ROW EXECUTE FUNCTION maintenance.doom_objects();
CREATE TRIGGER projects_doom_objects AFTER DELETE ON public.projects
    FOR EACH ROW EXECUTE FUNCTION maintenance.doom_objects();
CREATE TRIGGER uploads_doom_objects AFTER DELETE ON public.uploads
    FOR EACH ROW EXECUTE FUNCTION maintenance.doom_objects();

-- 6. ------------------------------------------------------------------------------------------
ALTER TABLE auth.sign_in_failures ADD COLUMN client text;
CREATE INDEX auth_sign_in_failures_client_idx ON auth.sign_in_failures (email_key, client, attempted_at);
CREATE INDEX auth_sign_in_failures_time_idx ON auth.sign_in_failures (attempted_at);

-- 4. ------------------------------------------------------------------------------------------
-- Every function in a schema of ours, then only what each role calls. Trigger functions need no
-- grant: Postgres checks EXECUTE on them when the trigger is made, not when it fires.
REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA auth, auth_private, sync, render, billing, maintenance FROM PUBLIC;
ALTER DEFAULT PRIVILEGES IN SCHEMA auth, auth_private, sync, render, billing, maintenance
    REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
ALTER DEFAULT PRIVILEGES REVOKE EXECUTE ON FUNCTIONS FROM PUBLIC;
-- render_seed is also an index expression on generations, evaluated for every insert.
GRANT EXECUTE ON FUNCTION render.render_seed(text) TO resonance_app, resonance_worker;

-- 7. ------------------------------------------------------------------------------------------
-- One PATCH at a time per upload: a request claims the upload (a lease, renewed while its body
-- streams) before it reads a byte, and the others are answered 409 at once.
ALTER TABLE public.uploads ADD COLUMN patch_holder uuid, ADD COLUMN patch_lease_until timestamptz;
