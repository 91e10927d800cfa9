-- The five tenant tables exactly as ../shared/seed/schema.md writes them. Additions (indexes,
-- constraints on values the API already validates, audit foreign keys) follow each table and say why.

CREATE TABLE organizations (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  name TEXT NOT NULL,
  slug TEXT UNIQUE,

  -- Stripe integration
  stripe_customer_id TEXT,
  stripe_subscription_id TEXT,
  subscription_status TEXT DEFAULT 'trialing'
    CHECK (subscription_status IN ('trialing', 'active', 'past_due', 'canceled', 'unpaid')),
  subscription_plan TEXT DEFAULT 'free',
  trial_ends_at TIMESTAMPTZ DEFAULT NOW() + INTERVAL '14 days',

  -- Usage tracking
  generations_this_month INTEGER DEFAULT 0,
  generations_limit INTEGER DEFAULT 3,

  settings JSONB DEFAULT '{}',
  created_at TIMESTAMPTZ DEFAULT NOW(),
  updated_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE users (
  id UUID PRIMARY KEY REFERENCES auth.users(id),
  organization_id UUID REFERENCES organizations(id) NOT NULL,
  email TEXT NOT NULL,
  name TEXT,
  role TEXT DEFAULT 'viewer' CHECK (role IN ('owner', 'admin', 'developer', 'viewer')),
  created_at TIMESTAMPTZ DEFAULT NOW()
);
CREATE INDEX users_organization_id_idx ON users (organization_id);

CREATE TABLE projects (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id UUID REFERENCES organizations(id) NOT NULL,
  user_id UUID REFERENCES users(id) NOT NULL,

  name TEXT NOT NULL,
  description TEXT,
  prompt TEXT NOT NULL,
  audio_path TEXT NOT NULL,
  audio_duration DECIMAL,

  resolution TEXT DEFAULT '1080p',
  style_preference TEXT DEFAULT 'organic',
  footage_visibility DECIMAL DEFAULT 0.6,
  effect_intensity DECIMAL DEFAULT 0.5,

  status TEXT DEFAULT 'draft'
    CHECK (status IN ('draft', 'queued', 'analyzing', 'orchestrating', 'rendering', 'completed', 'failed')),

  created_at TIMESTAMPTZ DEFAULT NOW(),
  updated_at TIMESTAMPTZ DEFAULT NOW()
);
CREATE INDEX projects_organization_id_idx ON projects (organization_id);
CREATE INDEX projects_user_id_idx ON projects (user_id);
-- The API's documented value sets, enforced where no client can get around them.
ALTER TABLE projects
  ADD CONSTRAINT projects_resolution_check
    CHECK (resolution IN ('720p', '1080p', '1440p', '2160p')),
  ADD CONSTRAINT projects_style_preference_check
    CHECK (style_preference IN ('organic', 'geometric', 'cinematic', 'abstract', 'glitch', 'retro', 'minimal')),
  ADD CONSTRAINT projects_footage_visibility_check CHECK (footage_visibility BETWEEN 0 AND 1),
  ADD CONSTRAINT projects_effect_intensity_check CHECK (effect_intensity BETWEEN 0 AND 1);

CREATE TABLE generations (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  project_id UUID REFERENCES projects(id) ON DELETE CASCADE,
  organization_id UUID REFERENCES organizations(id) NOT NULL,
  user_id UUID REFERENCES users(id) NOT NULL,

  seed TEXT NOT NULL UNIQUE,
  generation_number INTEGER,
  audio_analysis JSONB,
  visual_plan JSONB,

  video_url TEXT,
  thumbnail_url TEXT,
  duration DECIMAL,
  file_size BIGINT,
  render_time_seconds INTEGER,

  status TEXT DEFAULT 'pending'
    CHECK (status IN ('pending', 'processing', 'completed', 'failed')),
  error_message TEXT,

  created_at TIMESTAMPTZ DEFAULT NOW(),
  completed_at TIMESTAMPTZ
);
CREATE INDEX generations_project_id_idx ON generations (project_id, generation_number);
CREATE INDEX generations_organization_id_idx ON generations (organization_id);
CREATE INDEX generations_user_id_idx ON generations (user_id);

CREATE TABLE system_logs (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id UUID REFERENCES organizations(id),
  user_id UUID REFERENCES users(id),
  project_id UUID REFERENCES projects(id),
  generation_id UUID REFERENCES generations(id),

  action_type TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('started', 'success', 'warning', 'error')),
  severity TEXT DEFAULT 'info',

  message TEXT NOT NULL,
  details JSONB,
  error_message TEXT,

  created_at TIMESTAMPTZ DEFAULT NOW()
);
CREATE INDEX system_logs_organization_id_idx ON system_logs (organization_id, created_at DESC);
CREATE INDEX system_logs_user_id_idx ON system_logs (user_id);
CREATE INDEX system_logs_project_id_idx ON system_logs (project_id);
CREATE INDEX system_logs_generation_id_idx ON system_logs (generation_id);
-- An audit row must outlive what it describes: as written, the seed's references would forbid
-- deleting any project (or cascading to any generation) that was ever logged, and every change is.
-- The log keeps the ids in `details`; the links become NULL when their target is deleted.
ALTER TABLE system_logs
  DROP CONSTRAINT system_logs_project_id_fkey,
  ADD CONSTRAINT system_logs_project_id_fkey
    FOREIGN KEY (project_id) REFERENCES projects(id) ON DELETE SET NULL,
  DROP CONSTRAINT system_logs_generation_id_fkey,
  ADD CONSTRAINT system_logs_generation_id_fkey
    FOREIGN KEY (generation_id) REFERENCES generations(id) ON DELETE SET NULL;

-- updated_at follows every update.
CREATE FUNCTION auth_private.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;
CREATE TRIGGER organizations_touch BEFORE UPDATE ON organizations
  FOR EACH ROW EXECUTE FUNCTION auth_private.touch_updated_at();
CREATE TRIGGER projects_touch BEFORE UPDATE ON projects
  FOR EACH ROW EXECUTE FUNCTION auth_private.touch_updated_at();

-- Invitations: an admin invites an e-mail with a role; the invitee signs up with the token.
CREATE TABLE invitations (
  id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
  organization_id UUID NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
  email TEXT NOT NULL,
  role TEXT NOT NULL CHECK (role IN ('owner', 'admin', 'developer', 'viewer')),
  token_hash BYTEA NOT NULL UNIQUE,
  invited_by UUID NOT NULL REFERENCES users(id),
  created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
  expires_at TIMESTAMPTZ NOT NULL DEFAULT NOW() + INTERVAL '7 days',
  accepted_at TIMESTAMPTZ
);
CREATE INDEX invitations_organization_id_idx ON invitations (organization_id);
CREATE INDEX invitations_invited_by_idx ON invitations (invited_by);

-- Removed members keep their `users` row (projects, generations and logs still name them) but
-- lose all access: every policy resolves the caller's organization through this table.
CREATE TABLE auth_private.removed_members (
  user_id UUID PRIMARY KEY REFERENCES users(id),
  organization_id UUID NOT NULL REFERENCES organizations(id),
  removed_by UUID REFERENCES users(id),
  removed_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX removed_members_organization_id_idx ON auth_private.removed_members (organization_id);
CREATE INDEX removed_members_removed_by_idx ON auth_private.removed_members (removed_by);
