import { describe, expect, it } from "vitest";
import { footageMeaning, intensityMeaning, nameFromFile, STYLES } from "./params";

describe("render parameters", () => {
  it("explains every style and value range", () => {
    expect(STYLES.map((s) => s.value)).toEqual(["organic", "geometric", "cinematic", "abstract", "glitch", "retro", "minimal"]);
    expect(STYLES.every((s) => s.meaning.length > 10)).toBe(true);
    expect(footageMeaning(0)).toMatch(/graphics/);
    expect(footageMeaning(1)).toMatch(/Footage fills/);
    expect(intensityMeaning(0.1)).toMatch(/Subtle/);
    expect(intensityMeaning(0.95)).toMatch(/Maximal/);
  });
  it("names a project after its file", () => {
    expect(nameFromFile("/home/me/Music/night_drive.final.flac")).toBe("night drive.final");
    expect(nameFromFile("C:\\tracks\\Intro.mp3")).toBe("Intro");
    expect(nameFromFile(".wav")).toBe("Untitled");
  });
});

describe("look seeds", () => {
  it("are fresh, and made only of what the API accepts in a seed", async () => {
    const { newLookSeed } = await import("./params");
    const a = newLookSeed();
    expect(a).toMatch(/^look-[a-z0-9]{8}$/);
    expect(a.length).toBeLessThanOrEqual(64);
    expect(newLookSeed()).not.toEqual(a);
  });
});
