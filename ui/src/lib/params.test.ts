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

describe("tempo", () => {
  it("taps: nothing until four taps, then the median gap's tempo; a long pause starts again", async () => {
    const { tapTempo, roundTempo } = await import("./params");
    expect(tapTempo([], 0)).toBeNull();
    expect(tapTempo([0, 500], 1000)).toBeNull();
    expect(tapTempo([0, 500, 1000], 1500)).toBe(120);
    // One late tap does not move it.
    expect(roundTempo(tapTempo([0, 500, 1000, 1640], 2000)!)).toBe(120);
    // After a pause the old taps no longer count.
    expect(tapTempo([0, 500, 1000, 1500], 5000)).toBeNull();
    expect(roundTempo(tapTempo([5000, 5600, 6200], 6800)!)).toBe(100);
    expect(roundTempo(123.456)).toBe(123.5);
  });
  it("is uncertain below one half of confidence, unless the creator set it", async () => {
    const { tempoUncertain } = await import("./params");
    expect(tempoUncertain(124, 0.3, null)).toBe(true);
    expect(tempoUncertain(124, 0.5, null)).toBe(false);
    expect(tempoUncertain(124, 0.3, 62)).toBe(false);
    expect(tempoUncertain(null, 0, null)).toBe(false);
  });
});
