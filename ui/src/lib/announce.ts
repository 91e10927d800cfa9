// What the window's live region says when work finishes out of sight (a render, an upload), for
// people using a screen reader: pure, tested.

import type { GenerationStatus, UploadPhase } from "./bindings";

export function uploadAnnouncement(u: { file: string; state: UploadPhase; error: string | null }): string | null {
  if (u.state === "done") return `${u.file} finished uploading.`;
  if (u.state === "failed") return `${u.file} could not be uploaded${u.error ? `: ${u.error}` : "."}`;
  return null;
}

export function renderAnnouncement(status: GenerationStatus | null, project: string | null): string | null {
  const of = project ? ` of “${project}”` : "";
  if (status === "completed") return `The render${of} is ready.`;
  if (status === "failed") return `The render${of} failed.`;
  return null;
}
