// The app's commands and their keys: one table for the keyboard handler, the menus' labels (the
// native menu registers the same accelerators, see src-tauri/src/menu.rs) and the tests.

export type Command =
  | "new-project"
  | "import-audio"
  | "export"
  | "find"
  | "projects"
  | "activity"
  | "account"
  | "settings"
  | "back"
  | "forward"
  | "play-pause"
  | "seek-back"
  | "seek-forward";

export type Keys = { key: string; ctrlKey: boolean; altKey: boolean; metaKey: boolean; shiftKey: boolean };

/** Keys with Ctrl (⌘ on macOS) work everywhere; bare keys only outside text fields and buttons that take them. */
export function commandFor(e: Keys, inField: boolean): Command | null {
  const mod = e.ctrlKey || e.metaKey;
  if (mod && !e.altKey && !e.shiftKey) {
    switch (e.key.toLowerCase()) {
      case "n": return "new-project";
      case "o": return "import-audio";
      case "e": return "export";
      case "f": return "find";
      case ",": return "settings";
      case "1": return "projects";
      case "2": return "activity";
      case "3": return "account";
    }
    return null;
  }
  if (e.altKey && !mod && !e.shiftKey) {
    if (e.key === "ArrowLeft") return "back";
    if (e.key === "ArrowRight") return "forward";
    return null;
  }
  if (mod || e.altKey || e.shiftKey || inField) return null;
  if (e.key === " ") return "play-pause";
  if (e.key === "ArrowLeft") return "seek-back";
  if (e.key === "ArrowRight") return "seek-forward";
  return null;
}

/** Whether a key pressed in `el` belongs to it (typing, a slider, a list, a player's own keys). */
export function takesKeys(el: Element | null): boolean {
  if (!el) return false;
  const tag = el.tagName.toLowerCase();
  if (tag === "textarea" || tag === "select" || (el as HTMLElement).isContentEditable) return true;
  // Every input takes its keys: text is typed, Space ticks a checkbox, arrows move through radios.
  if (tag === "input") return true;
  // Elements that handle their own arrows and space (the waveform seeks with them, buttons and
  // links click, details open).
  return (
    ["button", "summary", "a"].includes(tag) ||
    el.hasAttribute("tabindex") ||
    el.closest("[data-own-keys], [role=slider], [role=listbox], [role=tablist]") !== null
  );
}

/** Seconds a seek key moves the playhead. */
export const SEEK_SECONDS = 5;
