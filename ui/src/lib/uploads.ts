// Uploads as the screens show them: pure, tested in uploads.test.ts.
import type { Upload, UploadProgress } from "./bindings";

/** A stored upload as a progress event would say it (a pending one is waiting to be sent). */
export function progressOf(u: Upload): UploadProgress {
  const file = String(u.path).split(/[\\/]/).pop() ?? "";
  return {
    upload_id: u.id, project_id: u.project_id, purpose: u.purpose, file, sha256: u.sha256, sent: u.offset, total: u.size,
    state: u.state === "pending" ? "waiting" : u.state, error: u.last_error,
  };
}
