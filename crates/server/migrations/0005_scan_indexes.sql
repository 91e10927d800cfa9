-- The change feed's initial pull scans each table of one organization in key order.
CREATE INDEX users_organization_id_id_idx ON users (organization_id, id);
CREATE INDEX projects_organization_id_id_idx ON projects (organization_id, id);
CREATE INDEX generations_organization_id_id_idx ON generations (organization_id, id);
CREATE INDEX system_logs_organization_id_id_idx ON system_logs (organization_id, id);
