import { describe, expect, it, vi } from "vitest";

vi.mock("./bindings", () => ({ commands: {} }));
const { AppError } = await import("./api");
const { explain, serverFor, byField, fieldOf, looksLikeCode } = await import("./signin");

const err = (code: string, message: string, api_code: string | null = null, field: string | null = null) =>
  new AppError({ code, message, field, api_code } as never);

describe("sign-in errors", () => {
  it("names each failure so the creator knows what to do", () => {
    expect(explain(err("wrong_credentials", "Wrong e-mail or password.")).title).toBe("Wrong e-mail or password");
    const offline = explain(err("offline", "The server at http://x cannot be reached (refused)."));
    expect(offline.title).toBe("The server cannot be reached");
    expect(offline.text).toMatch(/Advanced/);
    expect(explain(err("no_keyring", "No OS keyring is available.")).title).toBe("No keyring available");
    expect(explain(err("refused", "Too many failed attempts.", "too_many_attempts")).title).toBe("Too many attempts");
    expect(explain(new Error("boom")).text).toBe("boom");
    const old = explain(err("update_required", "This Resonance (0.1.0) is too old for this server, which needs 0.2.0 or newer."));
    expect(old).toEqual({ title: "Update Resonance", text: expect.stringMatching(/needs 0\.2\.0/) });
  });

  it("names sign-up and invitation failures", () => {
    expect(explain(err("refused", "An account with this e-mail already exists", "email_taken")).text).toMatch(/Sign in/);
    expect(explain(err("not_found", "This invitation is unknown, already used or expired")).title).toBe("Invitation not found");
    const wrongAddress = err("refused", "email: This invitation was sent to another e-mail address", "validation_failed", "email");
    expect(explain(wrongAddress).text).toMatch(/another e-mail address/);
    expect(fieldOf(wrongAddress)).toBe("email");
    expect(fieldOf(err("invalid", "invite_token: is not an invitation code", null, "invite_token"))).toBe("invite_code");
    expect(fieldOf(new Error("x"))).toBeNull();
  });
});

describe("the server field", () => {
  const known = { last: "https://b.example", accounts: [["Ana@Example.com", "https://a.example"] as [string, string]] };
  it("keeps each account's server, else the last used, else the default", () => {
    expect(serverFor(known, " ana@example.COM", "http://127.0.0.1:8787")).toBe("https://a.example");
    expect(serverFor(known, "new@example.com", "http://127.0.0.1:8787")).toBe("https://b.example");
    expect(serverFor({ last: null, accounts: [] }, "new@example.com", "http://127.0.0.1:8787")).toBe("http://127.0.0.1:8787");
    expect(serverFor(null, "", "https://default.example")).toBe("https://default.example");
  });
});

describe("the form's problems", () => {
  it("keeps the first problem of each field", () => {
    expect(byField([
      { field: "password", message: "must be at least 10 characters" },
      { field: "email", message: "must be an e-mail address" },
      { field: "password", message: "second" },
    ])).toEqual({ password: "must be at least 10 characters", email: "must be an e-mail address" });
  });
  it("tells a pasted code or link from anything else", () => {
    const code = "Zx3_-abcDEF0123456789abcdefghijklmnopqrstu";
    expect(looksLikeCode(code)).toBe(true);
    expect(looksLikeCode(` resonance://invite/${code}/ `)).toBe(true);
    expect(looksLikeCode("abc")).toBe(false);
    expect(looksLikeCode("not a code at all, surely")).toBe(false);
  });
});
