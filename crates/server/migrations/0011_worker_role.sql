-- The render worker's own role: it works every organization's queue, so it is not confined by
-- `request.jwt.claims` as the API's roles are, but it can touch only what rendering needs — the
-- queue, the render columns of generations, the status of projects, and the activity log.
-- It cannot read users or the auth schema, nor write billing, prompts or anyone's data.
DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'resonance_worker') THEN
    CREATE ROLE resonance_worker NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
  END IF;
  EXECUTE format('GRANT resonance_worker TO %I', current_user);
END $$;

GRANT USAGE ON SCHEMA render TO resonance_worker;
GRANT SELECT, UPDATE (state, attempts, leased_by, lease_expires_at, last_error, progress) ON render.jobs
  TO resonance_worker;

GRANT SELECT (id, organization_id, audio_path, prompt, resolution, style_preference, footage_visibility,
              effect_intensity, status) ON public.projects TO resonance_worker;
GRANT UPDATE (status) ON public.projects TO resonance_worker;
CREATE POLICY "Render worker: every project" ON public.projects FOR SELECT TO resonance_worker USING (true);
CREATE POLICY "Render worker: project status" ON public.projects FOR UPDATE TO resonance_worker
  USING (true) WITH CHECK (true);

GRANT SELECT ON public.generations TO resonance_worker;
GRANT UPDATE (status, audio_analysis, visual_plan, video_url, thumbnail_url, duration, file_size,
              render_time_seconds, error_message, completed_at) ON public.generations TO resonance_worker;
CREATE POLICY "Render worker: every generation" ON public.generations FOR SELECT TO resonance_worker USING (true);
CREATE POLICY "Render worker: render results" ON public.generations FOR UPDATE TO resonance_worker
  USING (true) WITH CHECK (true);

GRANT INSERT (organization_id, project_id, generation_id, action_type, status, severity, message)
  ON public.system_logs TO resonance_worker;
CREATE POLICY "Render worker: activity" ON public.system_logs FOR INSERT TO resonance_worker WITH CHECK (true);
