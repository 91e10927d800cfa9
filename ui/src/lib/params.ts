// The render parameters as a creator reads them.
import { CATALOG, type AspectRatio, type Project, type ProjectDefaults, type Resolution, type StylePreference } from "./bindings";
import { clock, parseClock } from "./format";

export const RESOLUTIONS: { value: Resolution; text: string }[] = [
  { value: "720p", text: "720p · fastest" },
  { value: "1080p", text: "1080p · Full HD" },
  { value: "1440p", text: "1440p · QHD" },
  { value: "2160p", text: "2160p · 4K, slowest" },
];

export const STYLES: { value: StylePreference; text: string; meaning: string }[] = [
  { value: "organic", text: "Organic", meaning: "Flowing colour fields and soft particles that breathe with the energy." },
  { value: "geometric", text: "Geometric", meaning: "Rotating polygons, rings and a grid that jump on the beat." },
  { value: "cinematic", text: "Cinematic", meaning: "Letterbox, slow camera, film grain, light leaks and bokeh; a new scene each section." },
  { value: "abstract", text: "Abstract", meaning: "A MilkDrop-like kaleidoscope with echoes and a wave ring that follows the bands." },
  { value: "glitch", text: "Glitch", meaning: "RGB split, block displacement and scan lines on every beat." },
  { value: "retro", text: "Retro", meaning: "A synthwave sun and perspective grid with VHS texture." },
  { value: "minimal", text: "Minimal", meaning: "One precise ring on a flat field, breathing with the kick." },
];

/** What a footage-visibility value means on screen. */
export function footageMeaning(v: number): string {
  if (v < 0.2) return "Almost only audio-reactive graphics.";
  if (v < 0.5) return "Graphics lead; footage shows through.";
  if (v < 0.8) return "Footage leads; graphics accent it.";
  return "Footage fills the frame; graphics are a light overlay.";
}

/** What an effect-intensity value means on screen. */
export function intensityMeaning(v: number): string {
  if (v < 0.25) return "Subtle: gentle motion, few cuts.";
  if (v < 0.6) return "Balanced: visuals follow beats and sections.";
  if (v < 0.85) return "Strong: every beat is felt.";
  return "Maximal: flashes, cuts and shakes on every hit.";
}

/** A project name from a file name: no extension, separators as spaces. */
export function nameFromFile(path: string): string {
  const file = path.split(/[\\/]/).pop() ?? path;
  return file.replace(/\.[^.]+$/, "").replace(/[_]+/g, " ").trim() || "Untitled";
}

export const AUDIO_EXTENSIONS = ["mp3", "wav", "flac", "ogg", "oga", "opus", "m4a", "mp4", "aac", "webm", "mka", "mkv", "aif", "aiff", "aifc"];

/** A fresh seed for the live look preview: letters and digits, as the API accepts. */
export function newLookSeed(): string {
  const alphabet = "abcdefghijkmnpqrstuvwxyz23456789";
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return "look-" + Array.from(bytes, (b) => alphabet[b % alphabet.length]).join("");
}

const LOOK_SEED_KEY = "resonance.look-seed.";

/** Remembers the seed previewed for a project, so its next "Generate" renders that look. */
export function rememberLookSeed(projectId: string, seed: string) {
  try {
    localStorage.setItem(LOOK_SEED_KEY + projectId, seed);
  } catch {
    // No storage: Generate picks a fresh seed, as it always could.
  }
}

/** The seed previewed for a project, once: taken, it is forgotten. */
export function takeLookSeed(projectId: string): string | null {
  try {
    const seed = localStorage.getItem(LOOK_SEED_KEY + projectId);
    localStorage.removeItem(LOOK_SEED_KEY + projectId);
    return seed;
  } catch {
    return null;
  }
}

/** The previewed seed of a project, without taking it. */
export function lookSeedOf(projectId: string): string | null {
  try {
    return localStorage.getItem(LOOK_SEED_KEY + projectId);
  } catch {
    return null;
  }
}

/**
 * The tempos a creator may set (the server's limits), the export presets, a share link's
 * lifetimes, the shapes with what each is for and its frame size at every resolution, and what
 * a new project gets for each setting left out (the database's defaults).
 */
export const [[TEMPO_MIN_BPM, TEMPO_MAX_BPM], EXPORT_PRESETS, SHARE_LINK_DAYS, SHAPES] = CATALOG;
// Widened from the constant's literal type: a project's settings are any values of these types.
export const PROJECT_DEFAULTS: ProjectDefaults = CATALOG[4];

/** A project's render settings, with the defaults for any it has no value for. */
export function settingsOf(
  p: Pick<Project, "resolution" | "aspect" | "style_preference" | "footage_visibility" | "effect_intensity">,
): ProjectDefaults {
  return {
    resolution: p.resolution ?? PROJECT_DEFAULTS.resolution,
    aspect: p.aspect ?? PROJECT_DEFAULTS.aspect,
    style_preference: p.style_preference ?? PROJECT_DEFAULTS.style_preference,
    footage_visibility: p.footage_visibility ?? PROJECT_DEFAULTS.footage_visibility,
    effect_intensity: p.effect_intensity ?? PROJECT_DEFAULTS.effect_intensity,
  };
}

/** A frame's [width, height] at `resolution` in `aspect` (the resolution names the short edge). */
export function frameSize(resolution: Resolution, aspect: AspectRatio): [number, number] {
  const shape = SHAPES.find(([a]) => a === aspect) ?? SHAPES[0];
  const found = shape[2].find(([r]) => r === resolution) ?? shape[2][1];
  return [found[1][0], found[1][1]];
}

/** A shape as CSS writes an aspect ratio: "9 / 16". */
export function cssAspect(aspect: AspectRatio | null | undefined): string {
  return (aspect ?? "16:9").replace(":", " / ");
}

/**
 * The part of a song between two times, snapped to the nearest downbeats (to beats when there are
 * none, to the tenth of a second when there are neither), at least a second long and within the
 * song: what a drag on the waveform selects.
 */
export function snapTrim(a: number, b: number, downbeats: readonly number[], beats: readonly number[], duration: number): [number, number] | null {
  const grid = (downbeats.length ? downbeats : beats).filter((t) => t >= 0 && t <= duration);
  const snap = (t: number) => {
    if (!grid.length) return Math.round(t * 10) / 10;
    const near = grid.reduce((best, g) => (Math.abs(g - t) < Math.abs(best - t) ? g : best), grid[0]);
    // The song's own start and end are edges too.
    return [0, duration, near].reduce((best, g) => (Math.abs(g - t) < Math.abs(best - t) ? g : best), near);
  };
  let [start, end] = [snap(Math.min(a, b)), snap(Math.max(a, b))];
  start = Math.max(0, start);
  end = Math.min(duration, end);
  return end - start >= 1 ? [start, end] : null;
}

/** Half a frame at 30 fps: a time this close to the song's start or end is that start or end. */
const HALF_FRAME = 1 / 60;

/** A part as kept: null when it is the whole song (`total` its length, when known). */
export function partOf(part: [number, number], total: number | null): [number, number] | null {
  return part[0] < HALF_FRAME && total !== null && part[1] >= total - HALF_FRAME ? null : part;
}

/**
 * What "Generate" sends for a part: no end when it runs to the song's end, so the server never
 * compares two copies of the song's length; nothing for the whole song.
 */
export function trimRequest(part: readonly [number, number | null] | null, total: number | null): { trim_start?: number; trim_end?: number | null } {
  if (!part) return {};
  const end = part[1] !== null && (total === null || part[1] < total - HALF_FRAME) ? part[1] : null;
  return { trim_start: part[0], trim_end: end };
}

/**
 * The part after the creator typed `text` as its start (`which` 0) or end (1): a time as 0:40 or
 * 40, blank for the song's own start or end. An error to show when the text is not a time, the
 * song's length is unknown and no end is given, or the part would be under a second.
 */
export function typedPart(current: [number, number] | null, which: 0 | 1, text: string, total: number | null): { part: [number, number] | null } | { error: string } {
  const end = total ?? Number.POSITIVE_INFINITY;
  const t = text.trim() === "" ? (which === 0 ? 0 : end) : parseClock(text);
  if (t === null) return { error: `${text} is not a time in the song: write 0:40 or 40.` };
  const next: [number, number] = which === 0 ? [t, current?.[1] ?? end] : [current?.[0] ?? 0, Math.min(t, end)];
  if (!Number.isFinite(next[1])) return { error: "Type where the part ends too: this song's length is not known here." };
  if (next[0] + 1 > end) return { error: `The part must start at least a second before the song ends (${clock(end)}).` };
  if (!(next[1] - next[0] >= 1)) return { error: "The part must be at least a second long, and end after it starts." };
  return { part: partOf(next, total) };
}

/**
 * Whether to say "tempo uncertain": a detected tempo whose confidence is below one half (on the
 * ground-truth corpus's held-out set, 58% of those were right against 83% above), and no tempo
 * of the creator's.
 */
export function tempoUncertain(detected: number | null, confidence: number, creator: number | null): boolean {
  return creator === null && detected !== null && confidence < 0.5;
}

/** A tempo to a tenth of a BPM: what the editor keeps and sends. */
export function roundTempo(bpm: number): number {
  return Math.round(bpm * 10) / 10;
}

/**
 * Tap tempo: from the earlier taps (milliseconds, oldest first) and this one, the tempo of the
 * taps so far, or null until there are four in a row. A pause of over two seconds starts again;
 * the median gap resists one early or late tap.
 */
export function tapTempo(earlier: number[], now: number): number | null {
  const taps = [...earlier, now];
  let start = taps.length - 1;
  while (start > 0 && taps[start] - taps[start - 1] <= 2000) start--;
  const run = taps.slice(start).slice(-8);
  if (run.length < 4) return null;
  const gaps = run.slice(1).map((t, i) => t - run[i]).sort((a, b) => a - b);
  const median = gaps[Math.floor(gaps.length / 2)];
  return median > 0 ? 60000 / median : null;
}
