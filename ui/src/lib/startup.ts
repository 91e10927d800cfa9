// The UI's steps of the start (epoch milliseconds), sent with `uiReady` once the first list is
// drawn: the app logs the whole start, and `cargo xtask bench` says where its time went.
import type { StartMark } from "./bindings";

const marks: StartMark[] = [];

/** Notes that the start reached `step` now. */
export function startMark(step: string): void {
  marks.push({ step, at_ms: performance.timeOrigin + performance.now() });
}

/** The steps so far, the page's own start first. */
export function startMarks(): StartMark[] {
  return [{ step: "page", at_ms: performance.timeOrigin }, ...marks];
}
