import { describe, expect, it } from "vitest";
import { back, current, forward, LIMIT, push, replace, start } from "./history";

const same = (a: string, b: string) => a === b;

describe("history", () => {
  it("goes back and forward like a browser, and a new screen drops what was ahead", () => {
    let h = push(push(start("projects"), "project:1", same), "edit:1", same);
    h = back(h);
    expect(current(h)).toBe("project:1");
    h = back(back(h));
    expect(current(h)).toBe("projects");
    h = forward(h);
    expect(current(h)).toBe("project:1");
    h = push(h, "activity", same);
    expect(current(forward(h))).toBe("activity");
    expect(h.entries).toEqual(["projects", "project:1", "activity"]);
  });
  it("does not stack the same screen twice, replaces in place, and keeps at most LIMIT", () => {
    let h = push(start("projects"), "projects", same);
    expect(h.entries).toEqual(["projects"]);
    h = replace(push(h, "new", same), "project:9", same);
    expect(h.entries).toEqual(["projects", "project:9"]);
    // Saving an edit returns to the project: one entry for it, so Back leaves it at once.
    h = replace(push(h, "edit:9", same), "project:9", same);
    expect(h.entries).toEqual(["projects", "project:9"]);
    expect(current(back(h))).toBe("projects");
    h = start("projects");
    for (let i = 0; i < LIMIT + 20; i++) h = push(h, `p${i}`, same);
    expect(h.entries.length).toBe(LIMIT);
    expect(current(h)).toBe(`p${LIMIT + 19}`);
  });
});
