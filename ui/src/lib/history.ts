// The screens visited, for Back and Forward (Alt+←/→, the mouse's back and forward buttons, the
// View menu): pure, tested. Like a browser's: going somewhere new drops what was ahead.

export type History<T> = { entries: T[]; index: number };

/** At most this many screens are remembered. */
export const LIMIT = 100;

export function start<T>(first: T): History<T> {
  return { entries: [first], index: 0 };
}

export function push<T>(h: History<T>, next: T, same: (a: T, b: T) => boolean): History<T> {
  if (same(h.entries[h.index], next)) return h;
  const entries = [...h.entries.slice(0, h.index + 1), next].slice(-LIMIT);
  return { entries, index: entries.length - 1 };
}

/** Replaces the current screen (a form that became what it made: Back must not return to it). */
export function replace<T>(h: History<T>, next: T, same: (a: T, b: T) => boolean): History<T> {
  // Back where it came from (an edit saved, a project deleted): one entry, not two alike.
  if (h.index > 0 && same(h.entries[h.index - 1], next)) {
    return { entries: [...h.entries.slice(0, h.index - 1), next, ...h.entries.slice(h.index + 1)], index: h.index - 1 };
  }
  const entries = [...h.entries];
  entries[h.index] = next;
  return { entries, index: h.index };
}

export function back<T>(h: History<T>): History<T> {
  return h.index > 0 ? { entries: h.entries, index: h.index - 1 } : h;
}

export function forward<T>(h: History<T>): History<T> {
  return h.index < h.entries.length - 1 ? { entries: h.entries, index: h.index + 1 } : h;
}

export function current<T>(h: History<T>): T {
  return h.entries[h.index];
}
