// Which screen is shown, and the screens visited before it (Back and Forward). Screens are
// reached by keyboard through the sidebar, links and shortcuts.
import * as history from "./history";

export type Route =
  | { name: "projects" }
  | { name: "new"; draft?: string }
  | { name: "edit"; id: string }
  | { name: "project"; id: string; generation?: string }
  | { name: "activity" }
  | { name: "account" }
  | { name: "settings" };

const same = (a: Route, b: Route) => JSON.stringify(a) === JSON.stringify(b);

export const nav = $state<{ route: Route; history: history.History<Route> }>({
  route: { name: "projects" },
  history: history.start<Route>({ name: "projects" }),
});

function show(h: history.History<Route>) {
  nav.history = h;
  nav.route = history.current(h);
}

/** Goes to `route`; with `replace`, in place of the current screen (Back skips it). */
export function go(route: Route, options: { replace?: boolean } = {}) {
  show(options.replace ? history.replace(nav.history, route, same) : history.push(nav.history, route, same));
}

/** Starts over at `route` with nothing to go back to (a new sign-in). */
export function reset(route: Route) {
  show(history.start(route));
}

export function back() {
  show(history.back(nav.history));
}

export function forward() {
  show(history.forward(nav.history));
}

export const canGoBack = () => nav.history.index > 0;
export const canGoForward = () => nav.history.index < nav.history.entries.length - 1;
