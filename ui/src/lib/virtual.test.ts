import { describe, expect, it } from "vitest";
import { visible } from "./virtual";

describe("virtual list", () => {
  it("renders only the rows in view plus a margin, keeping the full height", () => {
    const w = visible(10_000, 56, 56 * 5000, 560, 4);
    expect(w.start).toBe(4996);
    expect(w.end).toBe(5014);
    expect(w.padTop + (w.end - w.start) * 56 + w.padBottom).toBe(10_000 * 56);
  });
  it("clamps at both ends", () => {
    expect(visible(3, 56, 0, 560)).toEqual({ start: 0, end: 3, padTop: 0, padBottom: 0 });
    expect(visible(0, 56, 0, 560).end).toBe(0);
  });
});
