import type { Schemas } from "../api/client";
import { when } from "../lib/format";

export type Schedule = Schemas["Schedule"];

export function scheduleText(schedule: Schedule | null | undefined): string {
  if (!schedule) return "—";
  switch (schedule.kind) {
    case "now":
      return "Right after it is scheduled";
    case "at":
      return when(schedule.at);
    case "local_time":
      return `${schedule.date} at ${schedule.time}, each subscriber's local time`;
  }
}
