import { describe, expect, it } from "vitest";
import { bars, beatLines, timeToX, xToTime } from "./waveform";

describe("waveform", () => {
  it("draws the envelope of the peaks each bar covers", () => {
    // 4 seconds at 1 pair/s: quiet, loud, quiet, silent.
    const peaks = [-0.1, 0.1, -1, 1, -0.2, 0.3, 0, 0];
    const b = bars(peaks, 1, 4, 4, 100, 1);
    expect(b).toHaveLength(4);
    expect(b[1]).toEqual({ x: 1, top: 0, bottom: 100 });
    expect(b[0].top).toBeCloseTo(45);
    expect(b[3]).toEqual({ x: 3, top: 50, bottom: 50 });
  });
  it("draws only what is decoded so far", () => {
    const twoSeconds = [-0.5, 0.5, -0.5, 0.5];
    expect(bars(twoSeconds, 1, 10, 10, 10, 1)).toHaveLength(2);
    expect(bars([], 1, 10, 10, 10)).toEqual([]);
  });
  it("maps clicks to moments and back", () => {
    expect(xToTime(250, 200, 1000)).toBe(50);
    expect(timeToX(50, 200, 1000)).toBe(250);
    expect(xToTime(-5, 200, 1000)).toBe(0);
    expect(xToTime(5000, 200, 1000)).toBe(200);
  });
  it("thins the beat grid to bars when beats would crowd", () => {
    const beats = Array.from({ length: 400 }, (_, i) => i * 0.5);
    const downbeats = beats.filter((_, i) => i % 4 === 0);
    expect(beatLines(beats, downbeats, 200, 4000)).toHaveLength(400);
    const thin = beatLines(beats, downbeats, 200, 400);
    expect(thin).toHaveLength(100);
    expect(thin.every((l) => l.down)).toBe(true);
  });
});
