// Display helpers: pure, tested in format.test.ts.

import { CATALOG, type GenerationStatus, type LogStatus, type ProjectStatus, type StatusLook, type Tone } from "./bindings";

/** 3:07, or 1:02:03 past an hour. */
export function duration(seconds: number | null | undefined): string {
  if (seconds == null || !Number.isFinite(seconds) || seconds < 0) return "–";
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** 1.5 MB, 820 KB, 3 GB (decimal units, as file managers show). */
export function bytes(n: number | null | undefined): string {
  if (n == null || !Number.isFinite(n) || n < 0) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${i === 0 ? v : v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** "just now", "5 min ago", "3 h ago", "2 days ago", or the date. */
export function ago(iso: string | null | undefined, now: Date = new Date()): string {
  if (!iso) return "never";
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return "–";
  const s = Math.round((now.getTime() - t) / 1000);
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  if (s < 7 * 86400) return `${Math.round(s / 86400)} days ago`;
  return day(iso);
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "12 Nov 2026" in the computer's time zone: the UI's language (English), and no order of day
 *  and month to guess. Without `Intl`, whose locale data would cost the web process about 2 MB. */
export function day(iso: string | null | undefined): string {
  const d = iso ? new Date(iso) : null;
  if (!d || Number.isNaN(d.getTime())) return "–";
  return `${d.getDate()} ${MONTHS[d.getMonth()]} ${d.getFullYear()}`;
}

/** "12 Nov 2026, 14:05" in the computer's time zone. */
export function dayAndTime(iso: string | null | undefined): string {
  const d = iso ? new Date(iso) : null;
  if (!d || Number.isNaN(d.getTime())) return "–";
  return `${day(iso)}, ${String(d.getHours()).padStart(2, "0")}:${String(d.getMinutes()).padStart(2, "0")}`;
}

/** 10,000: digits grouped by threes, as the UI's language writes them. */
export function count(n: number): string {
  if (!Number.isFinite(n)) return "–";
  const whole = Math.trunc(Math.abs(n));
  return (n < 0 && whole > 0 ? "-" : "") + String(whole).replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Seconds between two instants, as a render time ("1 min 12 s"). */
export function elapsed(from: string | null | undefined, to: string | null | undefined): string {
  if (!from || !to) return "–";
  const s = Math.round((new Date(to).getTime() - new Date(from).getTime()) / 1000);
  if (!Number.isFinite(s) || s < 0) return "–";
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

/** Any status the UI shows: a project's, a generation's, an activity entry's. */
export type Status = ProjectStatus | GenerationStatus | LogStatus;

// How each status reads, from the contract (resonance-api's `look()`, in CATALOG).
const LOOKS: ReadonlyMap<Status, StatusLook> = new Map<Status, StatusLook>(CATALOG[6]);

/** A status in the creator's words. */
export function stage(status: Status | null | undefined): string {
  return status ? (LOOKS.get(status)?.label ?? status) : "–";
}

/** The badge's tone for a status. */
export function tone(status: Status | null | undefined): Tone {
  return (status && LOOKS.get(status)?.tone) || "idle";
}

/** 0..1 as a whole percentage. */
export function percent(fraction: number | null | undefined): string {
  if (fraction == null || !Number.isFinite(fraction)) return "–";
  return `${Math.round(Math.min(1, Math.max(0, fraction)) * 100)}%`;
}

/** A time in a song as a creator reads it: 0:40, 1:05.5 (tenths only when there are some). */
export function clock(seconds: number): string {
  const tenths = Math.round(Math.max(0, seconds) * 10);
  const [minutes, rest] = [Math.floor(tenths / 600), tenths % 600];
  const whole = String(Math.floor(rest / 10)).padStart(2, "0");
  return rest % 10 === 0 ? `${minutes}:${whole}` : `${minutes}:${whole}.${rest % 10}`;
}

/** A time typed by a creator: seconds (40, 40.5) or minutes:seconds (0:40, 1:05.5); null otherwise. */
export function parseClock(text: string): number | null {
  const s = text.trim();
  const number = (p: string) => (/^\d+(\.\d+)?$/.test(p) ? Number(p) : null);
  const m = /^(\d+):(\d{2}(?:\.\d+)?)$/.exec(s);
  if (m) {
    const sec = number(m[2]);
    return sec !== null && sec < 60 ? Number(m[1]) * 60 + sec : null;
  }
  return number(s);
}
