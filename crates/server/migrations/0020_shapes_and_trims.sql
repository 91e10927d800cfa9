-- Shapes and trims (issue 18, items 3 and 4).
--
-- 1. A project's `aspect`: 16:9 (the default), 9:16, 1:1 or 4:5. The resolution names the short
--    edge, so 1080p is 1920×1080, 1080×1920, 1080×1080 or 1080×1350; a plan's limit compares
--    the frame's long edge with its own resolution's long edge in 16:9.
-- 2. A generation may cover a part of the song: `trim_start` and `trim_end`, in seconds. Quota
--    counts it once like any render. The render follows the whole song's plan over that span, so
--    a trim's frames are the full render's frames at the same times.
-- 3. Both reach the worker through the render's inputs, snapshot at Generate like the rest.

-- 1. ------------------------------------------------------------------------------------------
ALTER TABLE public.projects ADD COLUMN aspect text NOT NULL DEFAULT '16:9'
  CONSTRAINT projects_aspect_check CHECK (aspect IN ('16:9', '9:16', '1:1', '4:5'));
GRANT INSERT (aspect), UPDATE (aspect) ON public.projects TO resonance_app;

-- The long edge of a frame of resolution `r` in shape `a`, in pixels (every one a whole number).
CREATE FUNCTION billing.long_edge(r text, a text) RETURNS integer
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT (CASE r WHEN '720p' THEN 720 WHEN '1080p' THEN 1080 WHEN '1440p' THEN 1440 WHEN '2160p' THEN 2160 END)
       * (CASE a WHEN '1:1' THEN 1 WHEN '4:5' THEN 5 ELSE 16 END)
       / (CASE a WHEN '1:1' THEN 1 WHEN '4:5' THEN 4 ELSE 9 END)
$$;

-- 2. ------------------------------------------------------------------------------------------
ALTER TABLE public.generations
  ADD COLUMN trim_start float8 CONSTRAINT generations_trim_start_check CHECK (trim_start >= 0),
  ADD COLUMN trim_end float8,
  ADD CONSTRAINT generations_trim_check CHECK (trim_end >= coalesce(trim_start, 0) + 1);

-- Seconds as a creator reads them: 1:05.5, 3:10.
CREATE FUNCTION auth_private.clock(seconds float8) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  WITH t AS (SELECT round(seconds::numeric, 1) AS s)
  SELECT floor(s / 60)::int || ':' || CASE WHEN s % 60 < 10 THEN '0' ELSE '' END
      || rtrim(rtrim(to_char(s % 60, 'FM990.0'), '0'), '.')
    FROM t
$$;

-- 3. ------------------------------------------------------------------------------------------
CREATE OR REPLACE FUNCTION render.inputs_of(p public.projects) RETURNS jsonb
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT jsonb_build_object(
        'audio_key', (SELECT u.object_key FROM public.uploads u
                       WHERE u.object_key = p.audio_path AND u.project_id = p.id
                         AND u.organization_id = p.organization_id AND u.state = 'complete'
                       LIMIT 1),
        'prompt', p.prompt,
        'resolution', coalesce(p.resolution, '1080p'),
        'aspect', p.aspect,
        'style_preference', coalesce(p.style_preference, 'organic'),
        'footage_visibility', coalesce(p.footage_visibility, 0.6)::float8,
        'effect_intensity', coalesce(p.effect_intensity, 0.5)::float8,
        'tempo_bpm', p.tempo_bpm::float8)
$$;

-- Starting a generation takes the part of the song to render (both NULL: all of it).
DROP FUNCTION auth_private.start_generation(uuid, text);
CREATE FUNCTION auth_private.start_generation(p_project uuid, p_seed text, p_trim_start float8, p_trim_end float8)
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
    song float8;
    t_start float8;
    t_end float8;
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
    -- A trim must fall within the song where its length is known (the worker checks it again
    -- against the decoded audio). A request without one renders the whole song, however short.
    song := project.audio_duration::float8;
    IF (p_trim_start IS NOT NULL OR p_trim_end IS NOT NULL) AND song IS NOT NULL AND coalesce(p_trim_start, 0) + 1 > song THEN
        RAISE EXCEPTION 'The trim starts at %, but the song is % long: start it at least a second before the end.',
            auth_private.clock(coalesce(p_trim_start, 0)), auth_private.clock(song)
            USING ERRCODE = 'RZ422', HINT = 'trim_start';
    END IF;
    -- An end past the song (or within half a frame of its end: a client's copy of the length may
    -- differ in its last digits) is its end; a start within half a frame of 0 is its start; a
    -- trim of the whole song is no trim.
    t_end := CASE WHEN song IS NULL OR p_trim_end < song - 1.0 / 60 THEN p_trim_end END;
    t_start := CASE WHEN p_trim_start >= 1.0 / 60 OR t_end IS NOT NULL THEN coalesce(p_trim_start, 0) END;
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
    IF FOUND AND billing.long_edge(coalesce(project.resolution, '1080p'), project.aspect)
                 > billing.long_edge(plan.max_resolution, '16:9') THEN
        RAISE EXCEPTION 'The % plan renders up to % (% pixels on the long edge), and this project is set to % in % (%). Choose a lower resolution or upgrade.',
            plan.name, plan.max_resolution, billing.long_edge(plan.max_resolution, '16:9'),
            project.resolution, project.aspect, billing.long_edge(project.resolution, project.aspect)
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
    INSERT INTO public.generations (project_id, organization_id, user_id, seed, generation_number, status,
                                    trim_start, trim_end)
    VALUES (p_project, me.organization_id, auth.uid(), stored_seed, next_number, 'pending',
            t_start, t_end)
    RETURNING * INTO made;
    INSERT INTO render.jobs (generation_id, organization_id, project_id, inputs)
    VALUES (made.id, me.organization_id, p_project,
            render.inputs_of(project) || jsonb_build_object('trim_start', made.trim_start, 'trim_end', made.trim_end));
    UPDATE public.projects p SET status = 'queued', updated_at = now() WHERE p.id = p_project;
    RETURN NEXT made;
END $$;
GRANT EXECUTE ON FUNCTION auth_private.start_generation(uuid, text, float8, float8) TO resonance_app;
