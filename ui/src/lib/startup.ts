// The UI's steps of the start (epoch milliseconds), sent with `uiReady` once the first list is
// drawn: the app logs the whole start, and `cargo xtask bench` says where its time went.
import { commands, type ProjectPage, type Result, type CommandError, type StartMark } from "./bindings";

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

/** An answer asked for ahead of need (at start, beside the session) and handed out once: the
 *  start then waits on one round trip instead of two in turn. */
export class Early<T> {
  private pending: Promise<T> | null = null;

  /** Asks now; a failure waits for whoever takes the answer. */
  ask(question: () => Promise<T>): void {
    const pending = question();
    // Not taken (signed out, say): not an unhandled rejection.
    pending.catch(() => {});
    this.pending = pending;
  }

  /** The answer, once; afterwards (or if never asked) null, and the caller asks afresh. */
  take(): Promise<T> | null {
    const pending = this.pending;
    this.pending = null;
    return pending;
  }

  /** Forgets the answer (it no longer fits: no one is signed in). */
  drop(): void {
    this.pending = null;
  }
}

/** The project list's first page, asked beside the session (`App`), taken by the list. */
export const firstPage = new Early<Result<ProjectPage, CommandError>>();
