import { describe, expect, it, vi } from "vitest";

vi.mock("@tauri-apps/api/webview", () => ({ getCurrentWebview: () => ({}) }));
const { dropStep } = await import("./drops");

describe("drag and drop", () => {
  it("highlights while files hover, takes them on drop, and ignores all of it when not accepted", () => {
    expect(dropStep({ type: "enter", paths: ["/a.mp3"] }, true)).toEqual({ dragging: true, take: null });
    expect(dropStep({ type: "over" }, true)).toEqual({ dragging: true, take: null });
    expect(dropStep({ type: "leave" }, true)).toEqual({ dragging: false, take: null });
    expect(dropStep({ type: "drop", paths: ["/a.mp3", "/b.png"] }, true)).toEqual({ dragging: false, take: ["/a.mp3", "/b.png"] });
    expect(dropStep({ type: "over" }, false)).toEqual({ dragging: false, take: null });
    expect(dropStep({ type: "drop", paths: ["/a.mp3"] }, false)).toEqual({ dragging: false, take: null });
  });
});
