// What the UI does with a `resonance://` link the app decided on (`LinkAction`, from Rust): pure, tested.
import type { LinkAction } from "./bindings";
import type { Route } from "./router.svelte";

export type Notice = { kind: "info" | "error"; text: string; signOutToJoin?: string };

export type LinkPlan = {
  /** Where to go (signed in). */
  route?: Route;
  /** The sign-in screen opens on "Join" with this code. */
  join?: string;
  notice?: Notice;
};

const BILLING: Record<string, string> = {
  checkout: "Welcome back. Your new plan shows here as soon as Stripe confirms the payment, usually within seconds.",
  checkout_canceled: "Checkout was canceled: nothing was charged and your plan is as it was.",
  portal: "Welcome back. Any change you made in the billing portal shows here within seconds.",
};

export function planFor(action: LinkAction): LinkPlan {
  switch (action.action) {
    case "join":
      return action.signed_in_as
        ? {
            notice: {
              kind: "info",
              text: `This invitation makes a new account, and you are signed in as ${action.signed_in_as}. Sign out (your data here stays) to join.`,
              signOutToJoin: action.code,
            },
          }
        : { join: action.code };
    case "show":
      return { route: { name: "project", id: action.project_id, generation: action.generation_id ?? undefined } };
    case "billing":
      return { route: { name: "account" }, notice: { kind: "info", text: BILLING[action.from] ?? BILLING.checkout } };
    case "refused":
      return { notice: { kind: "error", text: action.message } };
  }
}
