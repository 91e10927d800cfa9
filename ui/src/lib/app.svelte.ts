// App-wide state: who is signed in and how sync stands, kept current by the Rust side's events.
import type { Account, KnownServers, SyncState, SyncStatusView } from "./bindings";
import type { Notice } from "./links";

export const app = $state<{
  loaded: boolean;
  account: Account | null;
  defaultServer: string;
  /** Which server each account signed in to on this computer, and the last one used. */
  knownServers: KnownServers | null;
  sync: SyncStatusView | null;
  /** Bumped when the mirror changed: screens reload what they show. */
  revision: number;
  /** Bumped when drafts were started or discarded outside the projects screen. */
  drafts: number;
  signedOutReason: string | null;
  /** A message at the top of the window (a link's outcome), until dismissed. */
  notice: Notice | null;
  /** An invitation code a link brought: the sign-in screen opens on "Join" with it. */
  joinCode: string | null;
  /** What the live region says last (a render or an upload that finished). */
  announcement: string;
}>({ loaded: false, account: null, defaultServer: "", knownServers: null, sync: null, revision: 0, drafts: 0, signedOutReason: null, notice: null, joinCode: null, announcement: "" });

/** What the sync indicator shows: a sync state, or changes waiting to be sent. */
export type IndicatorState = Exclude<SyncState, "update_required"> | "pending";

/** The indicator's state: offline and error win over pending changes, which win over idle. */
export function syncLabel(s: SyncStatusView | null): { state: IndicatorState; text: string } {
  if (!s) return { state: "idle", text: "Not synced yet" };
  if (s.state === "offline") return { state: "offline", text: s.pending_changes > 0 ? `Offline · ${s.pending_changes} pending` : "Offline" };
  if (s.state === "update_required") return { state: "error", text: "Update needed" };
  if (s.state === "error") return { state: "error", text: "Sync error" };
  if (s.state === "syncing") return { state: "syncing", text: "Syncing…" };
  if (s.conflicts > 0) return { state: "error", text: `${s.conflicts} refused change${s.conflicts === 1 ? "" : "s"}` };
  if (s.pending_changes > 0) return { state: "pending", text: `${s.pending_changes} pending change${s.pending_changes === 1 ? "" : "s"}` };
  return { state: "idle", text: "Up to date" };
}
