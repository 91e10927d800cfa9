import { describe, expect, it } from "vitest";
import { renderAnnouncement, uploadAnnouncement } from "./announce";

describe("announcements", () => {
  it("says when an upload ends, and only then", () => {
    expect(uploadAnnouncement({ file: "a.wav", state: "done", error: null })).toBe("a.wav finished uploading.");
    expect(uploadAnnouncement({ file: "a.wav", state: "failed", error: "Not audio" })).toBe("a.wav could not be uploaded: Not audio");
    expect(uploadAnnouncement({ file: "a.wav", state: "sending", error: null })).toBeNull();
  });
  it("says when a render is ready or failed, naming the project", () => {
    expect(renderAnnouncement("completed", "Night Drive")).toBe("The render of “Night Drive” is ready.");
    expect(renderAnnouncement("failed", null)).toBe("The render failed.");
    expect(renderAnnouncement("processing", "x")).toBeNull();
  });
});
