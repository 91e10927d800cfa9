-- Starting a generation, and the render queue the worker claims jobs from.
--
-- `auth_private.start_generation` does, in the caller's transaction and in this order: the role
-- check (developer or above), the organization's subscription (`active`, or `trialing` before
-- `trial_ends_at`), the monthly quota (counted only when below the limit), the next
-- `generation_number` of the project, a unique `seed`, the generation row and its job. The
-- organization row is locked first, so concurrent requests of one organization are counted one
-- at a time and never exceed the quota; the project row is locked next, so numbers have no gaps
-- or repeats. Refusals raise SQLSTATE RZ402 with the refusal's error code as HINT.
--
-- Seeds: `generations.seed` is unique (the seed schema's rule), yet a creator may re-run a render
-- with a seed used before. The row then stores `<seed>~<k>`; what the render follows is the part
-- before `~` (render.render_seed).

CREATE SCHEMA render;
GRANT USAGE ON SCHEMA render TO resonance_app;

CREATE TABLE render.jobs (
    generation_id    uuid PRIMARY KEY REFERENCES public.generations (id) ON DELETE CASCADE,
    organization_id  uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
    project_id       uuid NOT NULL REFERENCES public.projects (id) ON DELETE CASCADE,
    state            text NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL DEFAULT 3 CHECK (max_attempts > 0),
    leased_by        text,
    lease_expires_at timestamptz,
    enqueued_at      timestamptz NOT NULL DEFAULT now(),
    last_error       text
);
-- The worker's claim: the oldest claimable job.
CREATE INDEX render_jobs_claimable ON render.jobs (enqueued_at) WHERE state IN ('queued', 'running');
CREATE INDEX render_jobs_organization_id ON render.jobs (organization_id);
CREATE INDEX render_jobs_project_id ON render.jobs (project_id);

CREATE FUNCTION render.render_seed(stored text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT split_part(stored, '~', 1) $$;

CREATE FUNCTION auth_private.start_generation(p_project uuid, p_seed text)
RETURNS SETOF public.generations
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    me record;
    org public.organizations;
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
    SELECT * INTO org FROM public.organizations o WHERE o.id = me.organization_id FOR UPDATE;
    PERFORM 1 FROM public.projects p WHERE p.id = p_project AND p.organization_id = me.organization_id FOR UPDATE;
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
        SELECT count(*) INTO reruns FROM public.generations g WHERE render.render_seed(g.seed) = p_seed;
        stored_seed := CASE WHEN reruns = 0 THEN p_seed ELSE p_seed || '~' || (reruns + 1) END;
    END IF;
    INSERT INTO public.generations (project_id, organization_id, user_id, seed, generation_number, status)
    VALUES (p_project, me.organization_id, auth.uid(), stored_seed, next_number, 'pending')
    RETURNING * INTO made;
    INSERT INTO render.jobs (generation_id, organization_id, project_id) VALUES (made.id, me.organization_id, p_project);
    UPDATE public.projects p SET status = 'queued', updated_at = now() WHERE p.id = p_project;
    RETURN NEXT made;
END $$;

REVOKE ALL ON FUNCTION auth_private.start_generation(uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_private.start_generation(uuid, text) TO resonance_app;
-- Seeds are looked up by their render seed when a creator re-runs one.
CREATE INDEX generations_render_seed ON public.generations (render.render_seed(seed));
