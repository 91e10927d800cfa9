import { describe, expect, it, vi } from "vitest";

vi.mock("./bindings", () => ({ commands: {} }));
const { AppError } = await import("./api");
const { explain } = await import("./signin");

const err = (code: string, message: string, api_code: string | null = null) =>
  new AppError({ code, message, field: null, api_code } as never);

describe("sign-in errors", () => {
  it("names each failure so the creator knows what to do", () => {
    expect(explain(err("wrong_credentials", "Wrong e-mail or password.")).title).toBe("Wrong e-mail or password");
    const offline = explain(err("offline", "The server at http://x cannot be reached (refused)."));
    expect(offline.title).toBe("The server cannot be reached");
    expect(offline.text).toMatch(/Advanced/);
    expect(explain(err("no_keyring", "No OS keyring is available.")).title).toBe("No keyring available");
    expect(explain(err("refused", "Too many failed attempts.", "too_many_attempts")).title).toBe("Too many attempts");
    expect(explain(new Error("boom")).text).toBe("boom");
  });
});
