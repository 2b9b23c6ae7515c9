import type { Schemas } from "./client";

/** A delivery's key in the log: its id, or for a broadcast's recipient (a shared entry,
 * logged by its inbox item, with no delivery id) the item and the recipient. */
export function entryKey(d: Schemas["DeliveryEntry"]): string {
  return d.id != null ? `d${d.id}` : `s${d.item_id}-${d.recipient}`;
}
