import { describe, expect, it } from "vitest";
import { commandFor } from "./shortcuts";

const k = (key: string, mods: Partial<{ ctrlKey: boolean; altKey: boolean; metaKey: boolean; shiftKey: boolean }> = {}) => ({
  key, ctrlKey: false, altKey: false, metaKey: false, shiftKey: false, ...mods,
});

describe("shortcuts", () => {
  it("maps Ctrl keys everywhere, even while typing", () => {
    expect(commandFor(k("n", { ctrlKey: true }), true)).toBe("new-project");
    expect(commandFor(k("F", { ctrlKey: true }), false)).toBe("find");
    expect(commandFor(k(",", { ctrlKey: true }), false)).toBe("settings");
    expect(commandFor(k("2", { metaKey: true }), false)).toBe("activity");
    expect(commandFor(k("n", { ctrlKey: true, shiftKey: true }), false)).toBeNull();
    expect(commandFor(k("z", { ctrlKey: true }), true)).toBeNull();
  });
  it("maps Alt+arrows to back and forward", () => {
    expect(commandFor(k("ArrowLeft", { altKey: true }), true)).toBe("back");
    expect(commandFor(k("ArrowRight", { altKey: true }), false)).toBe("forward");
  });
  it("leaves bare keys to text fields and maps them to playback elsewhere", () => {
    expect(commandFor(k(" "), false)).toBe("play-pause");
    expect(commandFor(k("ArrowLeft"), false)).toBe("seek-back");
    expect(commandFor(k("ArrowRight"), false)).toBe("seek-forward");
    for (const key of [" ", "ArrowLeft", "ArrowRight"]) expect(commandFor(k(key), true)).toBeNull();
    expect(commandFor(k("a"), false)).toBeNull();
  });
});
