import { describe, expect, it } from "vitest";
import { footageMeaning, intensityMeaning, nameFromFile, PROJECT_DEFAULTS, settingsOf, STYLES } from "./params";

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
  it("sizes frames from the catalog: the resolution names the short edge", async () => {
    const { frameSize, cssAspect, SHAPES } = await import("./params");
    expect(frameSize("1080p", "16:9")).toEqual([1920, 1080]);
    expect(frameSize("1080p", "9:16")).toEqual([1080, 1920]);
    expect(frameSize("720p", "4:5")).toEqual([720, 900]);
    expect(frameSize("1440p", "1:1")).toEqual([1440, 1440]);
    expect(SHAPES.map(([a]) => a)).toEqual(["16:9", "9:16", "1:1", "4:5"]);
    expect(cssAspect("9:16")).toBe("9 / 16");
    expect(cssAspect(null)).toBe("16 / 9");
  });
  it("snaps a dragged part to the nearest downbeats, at least a second long", async () => {
    const { snapTrim } = await import("./params");
    const downbeats = [0.5, 2.5, 4.5, 6.5, 8.5];
    expect(snapTrim(2.9, 6.1, downbeats, [], 10)).toEqual([2.5, 6.5]);
    // Dragged right to left, the same part.
    expect(snapTrim(6.1, 2.9, downbeats, [], 10)).toEqual([2.5, 6.5]);
    // The song's end is an edge too.
    expect(snapTrim(4.4, 9.9, downbeats, [], 10)).toEqual([4.5, 10]);
    // Both ends on one downbeat: no part.
    expect(snapTrim(2.4, 2.6, downbeats, [], 10)).toBeNull();
    // Beats when there are no downbeats; tenths when there are neither.
    expect(snapTrim(1.1, 2.9, [], [1, 2, 3], 10)).toEqual([1, 3]);
    expect(snapTrim(1.04, 3.26, [], [], 10)).toEqual([1, 3.3]);
  });
  it("keeps a part, sends it and reads a typed one, the whole song being none", async () => {
    const { partOf, trimRequest, typedPart } = await import("./params");
    expect(partOf([0, 12], 12)).toBeNull();
    expect(partOf([0.001, 11.99], 12)).toBeNull();
    expect(partOf([2, 12], 12)).toEqual([2, 12]);
    expect(partOf([0, 12], null)).toEqual([0, 12]);
    expect(trimRequest(null, 12)).toEqual({});
    expect(trimRequest([2, 12], 12)).toEqual({ trim_start: 2, trim_end: null });
    expect(trimRequest([2, 10], 12)).toEqual({ trim_start: 2, trim_end: 10 });
    expect(trimRequest([2, null], 12)).toEqual({ trim_start: 2, trim_end: null });
    expect(typedPart(null, 0, "0:02", 12)).toEqual({ part: [2, 12] });
    expect(typedPart([2, 12], 1, "10", 12)).toEqual({ part: [2, 10] });
    expect(typedPart([2, 10], 1, "0:40", 12)).toEqual({ part: [2, 12] });
    expect(typedPart([2, 10], 0, "", 12)).toEqual({ part: [0, 10] });
    expect(typedPart([0, 10], 1, "", 12)).toEqual({ part: null });
    const error = (r: ReturnType<typeof typedPart>) => ("error" in r ? r.error : "");
    expect(error(typedPart(null, 0, "1:5", 12))).toContain("not a time");
    expect(error(typedPart(null, 0, "11.5", 12))).toContain("a second before the song ends (0:12)");
    expect(error(typedPart([2, 10], 1, "2.5", 12))).toContain("at least a second long");
    expect(error(typedPart(null, 0, "3", null))).toContain("length is not known");
    expect(typedPart(null, 1, "5", null)).toEqual({ part: [0, 5] });
  });
});

describe("a project's settings", () => {
  it("are the shared defaults where the project has none, and its own otherwise", () => {
    const none = { resolution: null, aspect: null, style_preference: null, footage_visibility: null, effect_intensity: null };
    expect(settingsOf(none)).toEqual(PROJECT_DEFAULTS);
    expect(PROJECT_DEFAULTS.footage_visibility).toBe(0.6);
    const own = { resolution: "720p", aspect: "9:16", style_preference: "retro", footage_visibility: 0, effect_intensity: 1 } as const;
    expect(settingsOf(own)).toEqual(own);
  });
});
