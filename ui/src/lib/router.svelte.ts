// Which screen is shown. Screens are reached by keyboard through the sidebar and links.
export type Route =
  | { name: "projects" }
  | { name: "new" }
  | { name: "edit"; id: string }
  | { name: "project"; id: string; generation?: string }
  | { name: "activity" }
  | { name: "account" }
  | { name: "settings" };

export const nav = $state<{ route: Route }>({ route: { name: "projects" } });

export function go(route: Route) {
  nav.route = route;
}
