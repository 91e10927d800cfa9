// The UI's only door to the app: the generated commands, unwrapped. A refused command throws an
// `AppError` carrying the `{code, message, field}` the Rust side sent; screens branch on `code`.
import { commands, type CommandError } from "./bindings";

export class AppError extends Error {
  readonly detail: CommandError;
  constructor(detail: CommandError) {
    super(detail.message);
    this.detail = detail;
  }
  get code() {
    return this.detail.code;
  }
}

type Answer<T> = { status: "ok"; data: T } | { status: "error"; error: CommandError };

export async function ok<T>(answer: Promise<Answer<T>>): Promise<T> {
  const a = await answer;
  if (a.status === "error") throw new AppError(a.error);
  return a.data;
}

/** A message for any failure, for an error box. */
export function message(e: unknown): string {
  if (e instanceof AppError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

export { commands };
