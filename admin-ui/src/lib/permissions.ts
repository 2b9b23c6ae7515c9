// What each role may do, mirroring `Role::grants` in core/src/access.rs. The session
// answer carries the role but not its scopes, so the console keeps this table; the
// server still checks every request.
import type { Schemas } from "../api/client";

export type Role = Schemas["Role"];
export type Scope = Schemas["Scope"];

const READS: Scope[] = [
  "subscribers:read", "templates:read", "rules:read", "audiences:read", "campaigns:read", "deliveries:read",
];

const GRANTS: Record<Role, Scope[] | "all"> = {
  admin: "all",
  editor: [...READS, "subscribers:write", "templates:write", "audiences:write", "campaigns:write", "deliveries:redrive"],
  reviewer: [...READS, "campaigns:review", "sending:halt"],
  viewer: [...READS, "audit:read"],
};

export function grants(role: Role, scope: Scope): boolean {
  const granted = GRANTS[role];
  return granted === "all" || granted.includes(scope);
}
