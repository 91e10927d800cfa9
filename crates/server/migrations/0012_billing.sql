-- Billing: plans, Stripe's webhook events, and each organization's usage period.
--
-- Only the server's billing code changes an organization's Stripe, plan, trial and usage
-- columns. It works as `resonance_billing`, a role no request runs as: a /v1 route never switches
-- to it, and `resonance_app` keeps no UPDATE grant on those columns (0003). The billing code runs
-- only after a webhook's signature was verified, or for the monthly reset.
--
-- Lock order, everywhere: the organization row, then its billing.accounts row.
DO $$
BEGIN
  BEGIN
    CREATE ROLE resonance_billing NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
  EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
  END;
  EXECUTE format('GRANT resonance_billing TO %I', current_user);
END $$;

CREATE SCHEMA billing;
REVOKE ALL ON SCHEMA billing FROM PUBLIC;
GRANT USAGE ON SCHEMA billing TO resonance_billing;

-- The plan catalog. Its rows are written from resonance_api::plans::PLANS after every migration
-- run (Db::migrate), so the Rust catalog stays the one place plans are defined.
CREATE TABLE billing.plans (
  id                  text PRIMARY KEY,
  name                text NOT NULL,
  monthly_generations integer NOT NULL CHECK (monthly_generations >= 0),
  max_resolution      text NOT NULL CHECK (max_resolution IN ('720p', '1080p', '1440p', '2160p')),
  position            integer NOT NULL
);
GRANT SELECT ON billing.plans TO resonance_billing;

CREATE FUNCTION billing.resolution_rank(r text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE r WHEN '720p' THEN 1 WHEN '1080p' THEN 2 WHEN '1440p' THEN 3 WHEN '2160p' THEN 4 END
$$;

-- The first instant of the calendar month (UTC) that `at` falls in.
CREATE FUNCTION billing.month_start(at timestamptz) RETURNS timestamptz
LANGUAGE sql IMMUTABLE AS $$ SELECT date_trunc('month', at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' $$;

-- One row per organization: the period `generations_this_month` counts, and where it comes from
-- (calendar months on the free plan and trials; Stripe's billing period on a subscription).
CREATE TABLE billing.accounts (
  organization_id      uuid PRIMARY KEY REFERENCES public.organizations (id) ON DELETE CASCADE,
  period_source        text NOT NULL DEFAULT 'calendar' CHECK (period_source IN ('calendar', 'stripe')),
  period_start         timestamptz NOT NULL,
  period_end           timestamptz NOT NULL,
  -- Stripe's `created` of the newest event applied to the subscription's state: older events
  -- arriving later are recorded and ignored.
  state_event_at       timestamptz,
  price_id             text,
  cancel_at_period_end boolean NOT NULL DEFAULT false,
  CHECK (period_end > period_start)
);
CREATE INDEX accounts_calendar_due ON billing.accounts (period_end) WHERE period_source = 'calendar';
GRANT SELECT, UPDATE (period_source, period_end, state_event_at, price_id, cancel_at_period_end)
  ON billing.accounts TO resonance_billing;

INSERT INTO billing.accounts (organization_id, period_start, period_end)
SELECT o.id, billing.month_start(now()), billing.month_start(now()) + interval '1 month'
FROM public.organizations o;

CREATE FUNCTION billing.open_account() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  INSERT INTO billing.accounts (organization_id, period_start, period_end)
  VALUES (NEW.id, billing.month_start(now()), billing.month_start(now()) + interval '1 month');
  RETURN NULL;
END $$;
CREATE TRIGGER organizations_billing_account AFTER INSERT ON public.organizations
  FOR EACH ROW EXECUTE FUNCTION billing.open_account();

-- Events find their organization by Stripe's ids.
CREATE INDEX organizations_stripe_customer_id ON public.organizations (stripe_customer_id)
  WHERE stripe_customer_id IS NOT NULL;
CREATE INDEX organizations_stripe_subscription_id ON public.organizations (stripe_subscription_id)
  WHERE stripe_subscription_id IS NOT NULL;

-- Every Stripe event processed, by id: a redelivery finds its id here and changes nothing.
CREATE TABLE billing.stripe_events (
  id              text PRIMARY KEY,
  type            text NOT NULL,
  created         timestamptz NOT NULL,
  organization_id uuid REFERENCES public.organizations (id) ON DELETE SET NULL,
  outcome         text NOT NULL CHECK (outcome IN ('applied', 'stale', 'ignored')),
  received_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX stripe_events_organization_id ON billing.stripe_events (organization_id);
GRANT SELECT, INSERT, UPDATE (outcome, organization_id) ON billing.stripe_events TO resonance_billing;

-- Subscriptions Stripe deleted. A deleted subscription never comes back (Stripe cannot revive
-- one), so no later-arriving event about it changes the organization again.
CREATE TABLE billing.ended_subscriptions (
  subscription_id text PRIMARY KEY,
  organization_id uuid REFERENCES public.organizations (id) ON DELETE CASCADE,
  ended_at        timestamptz NOT NULL
);
CREATE INDEX ended_subscriptions_organization_id ON billing.ended_subscriptions (organization_id);
GRANT SELECT, INSERT ON billing.ended_subscriptions TO resonance_billing;

-- Every reset of the count, one per organization and period: the primary key makes a second
-- reset of the same period impossible, whichever instance tries.
CREATE TABLE billing.usage_resets (
  organization_id  uuid NOT NULL REFERENCES public.organizations (id) ON DELETE CASCADE,
  period_start     timestamptz NOT NULL,
  generations_used integer NOT NULL,
  reset_at         timestamptz NOT NULL DEFAULT now(),
  reset_by         text NOT NULL,
  PRIMARY KEY (organization_id, period_start)
);
GRANT SELECT ON billing.usage_resets TO resonance_billing;

-- The billing role changes exactly the Stripe, plan, trial and usage columns, of any
-- organization, and writes the activity log.
GRANT SELECT, UPDATE (stripe_customer_id, stripe_subscription_id, subscription_status, subscription_plan,
                      trial_ends_at, generations_limit) ON public.organizations TO resonance_billing;
CREATE POLICY "Billing: every organization" ON public.organizations FOR SELECT TO resonance_billing USING (true);
CREATE POLICY "Billing: plan and subscription" ON public.organizations FOR UPDATE TO resonance_billing
  USING (true) WITH CHECK (true);
GRANT INSERT (organization_id, action_type, status, severity, message, details) ON public.system_logs
  TO resonance_billing;
CREATE POLICY "Billing: activity" ON public.system_logs FOR INSERT TO resonance_billing WITH CHECK (true);

-- Starts the period [p_start, p_end) when it begins after the current one: the count goes back
-- to 0, once. The same period again (a redelivered or second event about it) only updates its
-- end; an older one changes nothing. Returns whether the count was reset.
CREATE FUNCTION billing.start_period(p_org uuid, p_start timestamptz, p_end timestamptz, p_source text, p_by text)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  used integer;
  acc billing.accounts;
BEGIN
  SELECT coalesce(o.generations_this_month, 0) INTO used FROM public.organizations o WHERE o.id = p_org FOR UPDATE;
  SELECT * INTO acc FROM billing.accounts a WHERE a.organization_id = p_org FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;  -- the organization was deleted meanwhile
  END IF;
  IF p_start <= acc.period_start THEN
    IF p_start = acc.period_start AND p_end > p_start THEN
      UPDATE billing.accounts a SET period_end = p_end, period_source = p_source WHERE a.organization_id = p_org;
    END IF;
    RETURN false;
  END IF;
  UPDATE billing.accounts a SET period_start = p_start, period_end = greatest(p_end, p_start + interval '1 second'),
         period_source = p_source
   WHERE a.organization_id = p_org;
  UPDATE public.organizations o SET generations_this_month = 0 WHERE o.id = p_org;
  INSERT INTO billing.usage_resets (organization_id, period_start, generations_used, reset_by)
  VALUES (p_org, p_start, used, p_by);
  INSERT INTO public.system_logs (organization_id, action_type, status, severity, message, details)
  VALUES (p_org, 'billing.period', 'success', 'info',
          format('A new usage period began on %s: %s generation%s used in the last one',
                 to_char(p_start AT TIME ZONE 'UTC', 'FMDD FMMonth YYYY'), used, CASE WHEN used = 1 THEN '' ELSE 's' END),
          jsonb_build_object('period_start', p_start, 'period_end', p_end, 'generations_used', used, 'by', p_by));
  RETURN true;
END $$;

-- On calendar months: when the organization's period is over, the current month starts.
CREATE FUNCTION billing.roll_calendar_month(p_org uuid, p_by text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM billing.accounts a
             WHERE a.organization_id = p_org AND a.period_source = 'calendar' AND a.period_end <= now()) THEN
    RETURN billing.start_period(p_org, billing.month_start(now()), billing.month_start(now()) + interval '1 month',
                                'calendar', p_by);
  END IF;
  RETURN false;
END $$;

-- Back to calendar months (a subscription ended): the current period runs to the end of this month.
CREATE FUNCTION billing.use_calendar_months(p_org uuid) RETURNS void
LANGUAGE sql SECURITY DEFINER SET search_path = '' AS $$
  UPDATE billing.accounts a
     SET period_source = 'calendar',
         period_end = greatest(billing.month_start(now()) + interval '1 month', a.period_start + interval '1 second')
   WHERE a.organization_id = p_org
$$;

REVOKE ALL ON FUNCTION billing.start_period(uuid, timestamptz, timestamptz, text, text),
  billing.roll_calendar_month(uuid, text), billing.use_calendar_months(uuid), billing.open_account() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION billing.start_period(uuid, timestamptz, timestamptz, text, text),
  billing.roll_calendar_month(uuid, text), billing.use_calendar_months(uuid),
  billing.resolution_rank(text), billing.month_start(timestamptz) TO resonance_billing;

-- Starting a generation, as in 0007, and now also: a period that is over is rolled first (so the
-- first generation of a month is counted in that month even before the periodic reset ran), and
-- the project's resolution must be within the plan's.
CREATE OR REPLACE FUNCTION auth_private.start_generation(p_project uuid, p_seed text)
RETURNS SETOF public.generations
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    me record;
    org public.organizations;
    plan billing.plans;
    project_resolution text;
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
    SELECT p.resolution INTO project_resolution
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
    IF FOUND AND billing.resolution_rank(coalesce(project_resolution, '1080p')) > billing.resolution_rank(plan.max_resolution) THEN
        RAISE EXCEPTION 'The % plan renders up to %, and this project is set to %. Choose a lower resolution or upgrade.',
            plan.name, plan.max_resolution, project_resolution
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
