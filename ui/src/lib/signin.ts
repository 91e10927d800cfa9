// The sign-in, sign-up and join screen's rules: pure, tested.
import { AppError, message } from "./api";
import type { KnownServers, Problem } from "./bindings";

export type Mode = "sign-in" | "sign-up" | "join";

export function explain(e: unknown): { title: string; text: string } {
  if (e instanceof AppError) {
    switch (e.code) {
      case "wrong_credentials":
        return { title: "Wrong e-mail or password", text: "Check both and try again." };
      case "offline":
        return { title: "The server cannot be reached", text: `${e.message} Check the address under Advanced, or your connection.` };
      case "no_keyring":
        return { title: "No keyring available", text: e.message };
      case "invalid":
        return { title: "Check the form", text: e.message };
      case "not_found":
        return { title: "Invitation not found", text: e.message };
      case "update_required":
        return { title: "Update Resonance", text: e.message };
      case "refused":
        switch (e.detail.api_code) {
          case "too_many_attempts":
            return { title: "Too many attempts", text: `${e.message} Wait a few minutes before trying again.` };
          case "email_taken":
            return { title: "This e-mail already has an account", text: "Sign in with it instead, or use another address." };
          case "not_found":
            return { title: "Invitation not found", text: e.message };
          case "validation_failed":
            return { title: "Check the form", text: e.message };
        }
        return { title: "Refused", text: e.message };
    }
  }
  return { title: "Something went wrong", text: message(e) };
}

/** The server for `email`: where it signed in on this computer, else the last used, else the default. */
export function serverFor(known: KnownServers | null, email: string, fallback: string): string {
  const typed = email.trim().toLowerCase();
  const match = known?.accounts.find(([e]) => e.toLowerCase() === typed);
  return match?.[1] ?? known?.last ?? fallback;
}

/** The first problem of each field, for showing beside it. */
export function byField(problems: Problem[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of problems) if (!(p.field in out)) out[p.field] = p.message;
  return out;
}

/** The field a server's refusal points at, so the form can mark it (the code field is `invite_token` on the wire). */
export function fieldOf(e: unknown): string | null {
  if (!(e instanceof AppError) || !e.detail.field) return null;
  return e.detail.field === "invite_token" ? "invite_code" : e.detail.field;
}

/** A pasted code or a whole resonance://invite/… link, as far as the form can tell; the Rust side decides. */
export function looksLikeCode(text: string): boolean {
  const t = text.trim().replace(/^resonance:\/\/invite\//, "").replace(/\/$/, "");
  return /^[A-Za-z0-9_-]{20,200}$/.test(t);
}
