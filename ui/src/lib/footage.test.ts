import { describe as group, expect, it } from "vitest";
import type { Footage } from "./bindings";
import { describe, moveBy, offeredNotes, partLabel, typedPoint } from "./footage";

function item(over: Partial<Footage> = {}): Footage {
  return {
    id: "a", organization_id: "o", project_id: "p", user_id: "u", kind: "video", filename: "band.mp4",
    object_key: "k", poster_key: "pk", sha256: "s", size: 12_300_000, duration: 14.2, width: 1920, height: 1080,
    codec: "h264", position: 0, in_point: null, out_point: null, created_at: null, updated_at: null, ...over,
  };
}

group("footage", () => {
  it("describes clips and images", () => {
    expect(describe(item())).toBe("Clip · 0:14.2 · 1920×1080 · 12 MB");
    expect(describe(item({ kind: "image", duration: null, width: 1080, height: 1350, size: 2_100_000 }))).toBe("Image · 1080×1350 · 2.1 MB");
  });
  it("names the part of a clip only when it is not the whole", () => {
    expect(partLabel(item())).toBeNull();
    expect(partLabel(item({ in_point: 2 }))).toBe("Uses 0:02–0:14.2");
    expect(partLabel(item({ in_point: 2, out_point: 6.5 }))).toBe("Uses 0:02–0:06.5");
    expect(partLabel(item({ kind: "image", in_point: 1 }))).toBeNull();
  });
  it("says what was refused and what was there already", () => {
    const notes = offeredNotes([
      { outcome: "queued", upload: {} as never },
      { outcome: "refused", path: "/m/notes.mp4", reason: "/m/notes.mp4 is not footage we can use: it holds no picture" },
      { outcome: "present", path: "/m/band.mp4", item: "a" },
    ]);
    expect(notes.refused).toEqual(["notes.mp4 is not footage we can use: it holds no picture"]);
    expect(notes.present).toEqual(["band.mp4 is already in this project's footage."]);
  });
  it("moves within the list only", () => {
    const list = [item({ id: "a" }), item({ id: "b", position: 1 }), item({ id: "c", position: 2 })];
    expect(moveBy(list, "b", -1)).toEqual({ position: 0 });
    expect(moveBy(list, "b", 1)).toEqual({ position: 2 });
    expect(moveBy(list, "a", -1)).toBeNull();
    expect(moveBy(list, "c", 1)).toBeNull();
    expect(moveBy(list, "zz", 1)).toBeNull();
  });
  it("reads typed in- and out-points against the clip", () => {
    const clip = item({ in_point: 2 });
    expect(typedPoint(clip, "out", "0:06.5")).toEqual({ patch: { out_point: 6.5 } });
    expect(typedPoint(clip, "in", "")).toEqual({ patch: { in_point: null } });
    expect(typedPoint(clip, "out", "1:00")).toEqual({ error: "The clip lasts 0:14.2." });
    // What is shown of a 14.96 s clip is 0:15: typed, it is the clip's end.
    expect(typedPoint(item({ duration: 14.96 }), "out", "0:15")).toEqual({ patch: { out_point: 14.96 } });
    expect(typedPoint(item({ duration: 14.96 }), "out", "0:15.1")).toHaveProperty("error");
    expect(typedPoint(clip, "out", "2")).toEqual({ error: "The part must end after it starts." });
    expect(typedPoint(clip, "in", "soon")).toHaveProperty("error");
    expect(typedPoint(item({ kind: "image" }), "in", "1")).toHaveProperty("error");
  });
});
