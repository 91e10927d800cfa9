// The render parameters as a creator reads them.
import type { Resolution, StylePreference } from "./bindings";

export const RESOLUTIONS: { value: Resolution; text: string }[] = [
  { value: "720p", text: "720p (1280×720) · fastest" },
  { value: "1080p", text: "1080p (1920×1080) · Full HD" },
  { value: "1440p", text: "1440p (2560×1440) · QHD" },
  { value: "2160p", text: "2160p (3840×2160) · 4K, slowest" },
];

export const STYLES: { value: StylePreference; text: string; meaning: string }[] = [
  { value: "organic", text: "Organic", meaning: "Flowing, soft shapes and gradients that breathe with the energy." },
  { value: "geometric", text: "Geometric", meaning: "Hard-edged shapes, grids and symmetry cut on the beat." },
  { value: "cinematic", text: "Cinematic", meaning: "Slow camera moves, film grain and letterboxing; cuts on sections." },
  { value: "abstract", text: "Abstract", meaning: "Colour fields and particles driven by the spectrum." },
  { value: "glitch", text: "Glitch", meaning: "Datamosh, RGB splits and stutters on transients." },
  { value: "retro", text: "Retro", meaning: "VHS and synthwave palettes, scanlines." },
  { value: "minimal", text: "Minimal", meaning: "Sparse, monochrome, restrained motion." },
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

export const AUDIO_EXTENSIONS = ["mp3", "wav", "flac", "ogg", "oga", "m4a", "mp4", "aac", "aif", "aiff", "aifc"];
