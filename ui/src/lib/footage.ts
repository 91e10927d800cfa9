// A project's footage as a creator reads it: pure, tested in footage.test.ts.
import type { Footage, FootagePatch, Offered } from "./bindings";
import { bytes, clock, parseClock } from "./format";

/** What the file picker offers for footage (the server judges the contents, not the name). */
export const FOOTAGE_EXTENSIONS = ["mp4", "m4v", "mov", "webm", "mkv", "jpg", "jpeg", "png", "webp"];

/** The shortest part of a clip a render may use, in seconds (the server's MIN_CLIP_SECONDS). */
export const MIN_PART_SECONDS = 0.1;

function fileName(path: string): string {
  return path.split(/[\\/]/).pop() ?? path;
}

/** "Clip · 0:14 · 1920×1080 · 12 MB" or "Image · 1080×1350 · 2.1 MB". */
export function describe(f: Footage): string {
  const size = `${f.width}×${f.height}`;
  return f.kind === "video"
    ? `Clip · ${clock(f.duration ?? 0)} · ${size} · ${bytes(f.size)}`
    : `Image · ${size} · ${bytes(f.size)}`;
}

/** The part of a clip a render uses, when it is not the whole clip: "Uses 0:02–0:06.5". */
export function partLabel(f: Footage): string | null {
  if (f.kind !== "video" || (f.in_point == null && f.out_point == null)) return null;
  return `Uses ${clock(f.in_point ?? 0)}–${clock(f.out_point ?? f.duration ?? 0)}`;
}

/** What to tell the creator about files offered as footage (nothing for those now uploading). */
export function offeredNotes(offered: readonly Offered[], failed: string | null = null): { refused: string[]; present: string[] } {
  const refused: string[] = failed ? [failed] : [];
  const present: string[] = [];
  for (const o of offered) {
    // The file's name says enough; its folder is the creator's own.
    if (o.outcome === "refused") refused.push(o.reason.split(o.path).join(fileName(o.path)));
    else if (o.outcome === "present") present.push(`${fileName(o.path)} is already in this project's footage.`);
  }
  return { refused, present };
}

/** The change that moves an item one place up (-1) or down (+1); null at either end. */
export function moveBy(items: readonly Footage[], id: string, by: -1 | 1): FootagePatch | null {
  const at = items.findIndex((f) => f.id === id);
  const to = at + by;
  if (at < 0 || to < 0 || to >= items.length) return null;
  return { position: to };
}

/**
 * The change a typed in- or out-point makes to a clip (empty: back to the clip's own start or
 * end), or why it cannot be (the server checks the same).
 */
export function typedPoint(f: Footage, which: "in" | "out", text: string): { patch: FootagePatch } | { error: string } {
  const length = f.duration ?? 0;
  if (f.kind !== "video") return { error: "An image has no part to choose." };
  const key = which === "in" ? "in_point" : "out_point";
  if (text.trim() === "") return { patch: { [key]: null } };
  const t = parseClock(text);
  if (t === null) return { error: `Type a time such as 0:04 or 4.5, within the clip's ${clock(length)}.` };
  // The length is shown to a tenth: typing what is shown means the clip's end.
  if (t > length + 0.05) return { error: `The clip lasts ${clock(length)}.` };
  const at = Math.min(t, length);
  const start = which === "in" ? at : (f.in_point ?? 0);
  const end = which === "out" ? at : (f.out_point ?? length);
  if (end - start < MIN_PART_SECONDS) return { error: "The part must end after it starts." };
  return { patch: { [key]: at } };
}

/** Notes on files offered while a project was being created, for its screen to show once. */
const carried = new Map<string, { refused: string[]; present: string[] }>();

export function takeFootageNotes(project: string, offered: readonly Offered[], failed: string | null = null) {
  const notes = offeredNotes(offered, failed);
  if (notes.refused.length || notes.present.length) carried.set(project, notes);
}

export function carriedFootageNotes(project: string): { refused: string[]; present: string[] } {
  const notes = carried.get(project) ?? { refused: [], present: [] };
  carried.delete(project);
  return notes;
}
