// The UI's steps of the start (epoch milliseconds), sent with `uiReady` once the first list is
// drawn: the app logs the whole start, and `cargo xtask bench` says where its time went.
import { commands, type StartMark } from "./bindings";

const marks: StartMark[] = [];
let reported = false;

/** Notes that the start reached `step` now (nothing once the start was reported). */
export function startMark(step: string): void {
  if (!reported) marks.push({ step, at_ms: performance.timeOrigin + performance.now() });
}

/** The first list is drawn: sends the start's steps, once per run of the app. */
export function reportStart(): void {
  if (reported) return;
  startMark("drawn");
  reported = true;
  commands.uiReady(startMarks());
}

/** The steps so far, the page's own start first. */
export function startMarks(): StartMark[] {
  return [{ step: "page", at_ms: performance.timeOrigin }, ...marks];
}
