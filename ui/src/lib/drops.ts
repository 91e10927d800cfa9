// Files dragged from the system onto the window: one listener shape for every screen that takes
// drops. `accepts()` is asked at each event (a screen may take drops only for some roles or
// routes); while it says no, nothing is highlighted and a drop is ignored.
import { getCurrentWebview } from "@tauri-apps/api/webview";

export type DragDropPayload =
  | { type: "enter" | "over"; paths?: string[] }
  | { type: "leave" }
  | { type: "drop"; paths: string[] };

/** What one drag-and-drop event does: whether the target is highlighted now, and the files to take. */
export function dropStep(payload: DragDropPayload, accepts: boolean): { dragging: boolean; take: string[] | null } {
  if (!accepts) return { dragging: false, take: null };
  if (payload.type === "enter" || payload.type === "over") return { dragging: true, take: null };
  if (payload.type === "drop") return { dragging: false, take: payload.paths };
  return { dragging: false, take: null };
}

/** Listens for files dropped on the window; resolves to the function that stops listening. */
export function onFileDrop(
  accepts: () => boolean,
  setDragging: (dragging: boolean) => void,
  take: (paths: string[]) => void,
): Promise<() => void> {
  return getCurrentWebview().onDragDropEvent((e) => {
    const step = dropStep(e.payload as DragDropPayload, accepts());
    setDragging(step.dragging);
    if (step.take) take(step.take);
  });
}
