import { expect, it } from "vitest";
import { can, ROLES } from "./roles";

it("answers what a role may do from the contract's table", () => {
  expect(ROLES).toEqual(["viewer", "developer", "admin", "owner"]);
  expect(can("viewer").edit_projects).toBe(false);
  expect(can("developer").edit_projects && can("developer").share_own_generations).toBe(true);
  expect(can("developer").share_any_generation || can("developer").delete_projects).toBe(false);
  expect(can("admin").delete_projects && can("admin").manage_members && !can("admin").manage_billing).toBe(true);
  expect(can("owner").manage_billing).toBe(true);
  expect(can("admin").invite_roles).toEqual(["viewer", "developer", "admin"]);
  expect(can(undefined)).toEqual(can("viewer"));
});
