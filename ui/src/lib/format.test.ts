import { describe, expect, it } from "vitest";
import { ago, bytes, count, day, dayAndTime, duration, elapsed, percent, stage, tone } from "./format";

describe("format", () => {
  it("shows durations as a player does", () => {
    expect(duration(0)).toBe("0:00");
    expect(duration(187.9)).toBe("3:07");
    expect(duration(3723)).toBe("1:02:03");
    expect(duration(null)).toBe("–");
    expect(duration(-1)).toBe("–");
  });
  it("shows sizes in decimal units", () => {
    expect(bytes(999)).toBe("999 B");
    expect(bytes(1500)).toBe("1.5 KB");
    expect(bytes(52_000_000)).toBe("52 MB");
    expect(bytes(undefined)).toBe("–");
  });
  it("says how long ago", () => {
    const now = new Date("2026-12-02T12:00:00Z");
    expect(ago("2026-12-02T11:59:50Z", now)).toBe("just now");
    expect(ago("2026-12-02T11:55:00Z", now)).toBe("5 min ago");
    expect(ago("2026-12-02T09:00:00Z", now)).toBe("3 h ago");
    expect(ago("2026-11-30T12:00:00Z", now)).toBe("2 days ago");
    expect(ago(null, now)).toBe("never");
    // A week and more: the day, written out.
    expect(ago("2026-11-12T12:00:00", now)).toBe("12 Nov 2026");
  });

  it("writes days and counts the same way on every computer", () => {
    expect(day("2026-01-05T10:00:00")).toBe("5 Jan 2026");
    expect(day("not a date")).toBe("–");
    expect(day(null)).toBe("–");
    expect(dayAndTime("2026-12-24T09:05:00")).toBe("24 Dec 2026, 09:05");
    expect(count(0)).toBe("0");
    expect(count(999)).toBe("999");
    expect(count(10000)).toBe("10,000");
    expect(count(1234567)).toBe("1,234,567");
    expect(count(-4500)).toBe("-4,500");
    expect(count(-0.4)).toBe("0");
    expect(count(Number.NaN)).toBe("–");
  });
  it("times renders", () => {
    expect(elapsed("2026-12-02T12:00:00Z", "2026-12-02T12:01:12Z")).toBe("1 min 12 s");
    expect(elapsed("2026-12-02T12:00:00Z", "2026-12-02T12:00:09Z")).toBe("9 s");
    expect(elapsed(null, "2026-12-02T12:00:09Z")).toBe("–");
  });
  it("names stages in the creator's words and picks a tone", () => {
    expect(stage("orchestrating")).toBe("Planning visuals");
    expect(tone("rendering")).toBe("busy");
    expect(tone("failed")).toBe("bad");
    expect(tone("completed")).toBe("ok");
    expect(tone("draft")).toBe("idle");
    expect(stage("pending")).toBe("Waiting to start");
    expect(tone("warning")).toBe("busy");
    expect(stage(null)).toBe("–");
    expect(percent(0.426)).toBe("43%");
    expect(percent(2)).toBe("100%");
  });
  it("reads and prints times in a song as creators write them", async () => {
    const { clock, parseClock } = await import("./format");
    expect(clock(40)).toBe("0:40");
    expect(clock(65.5)).toBe("1:05.5");
    expect(clock(59.96)).toBe("1:00");
    expect(parseClock("0:40")).toBe(40);
    expect(parseClock("1:05.5")).toBe(65.5);
    expect(parseClock(" 40 ")).toBe(40);
    for (const bad of ["", "-3", "1:60", "1:5", "a:10", "+4", "1:2:03", "Infinity", "1e2", ".5", "5.", "1:05.", "+1:05"]) {
      expect(parseClock(bad)).toBeNull();
    }
    for (const t of [0, 9.9, 61.2, 3599]) expect(parseClock(clock(t))).toBe(t);
  });
});
