// What each role may do, from the contract (resonance-api's `Role::capabilities`, in CATALOG):
// screens branch on these, never on a role's name. Pure, tested in roles.test.ts.
import { CATALOG, type Capabilities, type Role } from "./bindings";

/** A role's capabilities as the catalog holds them (its lists read-only). */
export type Can = Omit<Capabilities, "invite_roles"> & { readonly invite_roles: readonly Role[] };

const ALL: readonly Can[] = CATALOG[5];

/** Every role, from least to most privileged. */
export const ROLES: readonly Role[] = ALL.map((c) => c.role);

/** What `role` may do; without a role (signed out, still loading), what a viewer may. */
export function can(role: Role | null | undefined): Can {
  return ALL.find((c) => c.role === role) ?? ALL[0];
}
