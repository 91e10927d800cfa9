-- A revoked share link stays as it was revoked: its time and who did it are the record (0018's
-- policy let a sharer rewrite them).

DROP POLICY "Admins and the author revoke" ON public.share_links;
CREATE POLICY "Admins and the author revoke" ON public.share_links FOR UPDATE TO resonance_app
  USING (organization_id = (SELECT auth_private.current_org()) AND revoked_at IS NULL
         AND auth_private.may_share(generation_id))
  WITH CHECK (organization_id = (SELECT auth_private.current_org()) AND revoked_by = auth.uid());
