import { describe, expect, it, vi } from "vitest";

vi.mock("./bindings", () => ({ commands: { uiReady: vi.fn() } }));
const { Early } = await import("./startup");

describe("an answer asked early", () => {
  it("is asked at once and handed out once", async () => {
    const early = new Early<number>();
    const question = vi.fn(() => Promise.resolve(7));
    early.ask(question);
    expect(question).toHaveBeenCalledOnce();
    expect(await early.take()).toBe(7);
    expect(early.take()).toBeNull();
  });

  it("is null when never asked or dropped", () => {
    const early = new Early<number>();
    expect(early.take()).toBeNull();
    early.ask(() => Promise.resolve(1));
    early.drop();
    expect(early.take()).toBeNull();
  });

  it("keeps a failure for whoever takes it, and is no unhandled rejection meanwhile", async () => {
    const early = new Early<number>();
    early.ask(() => Promise.reject(new Error("signed out")));
    await new Promise((r) => setTimeout(r, 0));
    await expect(early.take()).rejects.toThrow("signed out");
  });
});
