// A banner on every page while the kill switch holds anything, so no operator wonders
// why nothing goes out.
import { useEffect } from "react";
import { api } from "../api/client";
import { call } from "../api/errors";
import { Link } from "../lib/router";
import { useApi } from "../lib/useApi";
import { HALTS_CHANGED, describeHalt } from "../pages/KillSwitch";

export function HaltBanner() {
  const halts = useApi(() => call(api.GET("/v1/halts")), [], { pollMs: 5000 });
  useEffect(() => {
    const reload = () => halts.reload();
    window.addEventListener(HALTS_CHANGED, reload);
    return () => window.removeEventListener(HALTS_CHANGED, reload);
  }, [halts.reload]);
  const list = halts.data ?? [];
  if (list.length === 0) return null;
  return (
    <div className="halt-banner" role="status">
      <strong>Sending stopped:</strong> {list.map((halt) => `${describeHalt(halt)} (${halt.reason})`).join("; ")}.{" "}
      <Link to="/kill-switch">Open the kill switch</Link>
    </div>
  );
}
