import { expect, it } from "vitest";
import { progressOf } from "./uploads";

it("shows a stored upload as its progress", () => {
  const p = progressOf({ id: "u", project_id: "p", path: "/home/me/clips/band take 2.mp4", sha256: "s", size: 100, offset: 40,
    state: "pending", last_error: null, purpose: "footage", upload_url: null });
  expect(p).toEqual({ upload_id: "u", project_id: "p", purpose: "footage", file: "band take 2.mp4", sha256: "s", sent: 40, total: 100, state: "waiting", error: null });
  expect(progressOf({ id: "u", project_id: "p", path: "C:\\music\\song.wav", sha256: "s", size: 1, offset: 0, state: "paused",
    last_error: "x", purpose: "audio", upload_url: null }).file).toBe("song.wav");
});
