import { describe, expect, it } from "vitest";
import { syncLabel } from "./app.svelte";
import type { SyncStatusView } from "./bindings";

const base: SyncStatusView = { state: "idle", last_success_at: null, pending_changes: 0, conflicts: 0, last_error: null };

describe("sync indicator", () => {
  it("is honest about offline, errors and pending changes", () => {
    expect(syncLabel(null).text).toBe("Not synced yet");
    expect(syncLabel({ ...base }).state).toBe("idle");
    expect(syncLabel({ ...base, state: "syncing" }).state).toBe("syncing");
    expect(syncLabel({ ...base, state: "offline", pending_changes: 2 }).text).toBe("Offline · 2 pending");
    expect(syncLabel({ ...base, pending_changes: 1 }).text).toBe("1 pending change");
    expect(syncLabel({ ...base, conflicts: 2, pending_changes: 1 }).state).toBe("error");
    expect(syncLabel({ ...base, state: "error", pending_changes: 3 }).text).toBe("Sync error");
    expect(syncLabel({ ...base, state: "update_required", pending_changes: 3 })).toEqual({ state: "error", text: "Update needed" });
  });
});
