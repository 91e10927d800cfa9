import { describe, expect, it } from "vitest";
import { planFor } from "./links";

describe("links", () => {
  it("opens the join form when signed out, and offers to sign out first when signed in", () => {
    expect(planFor({ action: "join", code: "abc", signed_in_as: null })).toEqual({ join: "abc" });
    const signedIn = planFor({ action: "join", code: "abc", signed_in_as: "ana@example.com" });
    expect(signedIn.join).toBeUndefined();
    expect(signedIn.notice?.signOutToJoin).toBe("abc");
    expect(signedIn.notice?.text).toMatch(/ana@example.com/);
  });
  it("shows a project or a video, or the plan after Stripe, and says why a link was refused", () => {
    expect(planFor({ action: "show", project_id: "p", generation_id: "g" }).route).toEqual({ name: "project", id: "p", generation: "g" });
    expect(planFor({ action: "show", project_id: "p", generation_id: null }).route).toEqual({ name: "project", id: "p", generation: undefined });
    const back = planFor({ action: "billing", from: "checkout_canceled" });
    expect(back.route).toEqual({ name: "account" });
    expect(back.notice?.text).toMatch(/nothing was charged/);
    expect(planFor({ action: "refused", message: "This is not a Resonance link." })).toEqual({
      notice: { kind: "error", text: "This is not a Resonance link." },
    });
  });
});
