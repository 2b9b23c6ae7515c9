// Short notices of what an action did ("Subscriber ana saved."), shown in one corner
// for a few seconds and announced to screen readers; a failure stays until dismissed.
import { createContext, useCallback, useContext, useState, type ReactNode } from "react";
import { describe } from "../api/errors";

type Toast = { id: number; kind: "success" | "error"; text: string };
type Show = { success: (text: string) => void; failure: (error: unknown) => void };

const Toasts = createContext<Show>({ success: () => {}, failure: () => {} });
const SHOWN_MS = 5000;

export function ToastProvider({ children }: { children: ReactNode }) {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const dismiss = useCallback((id: number) => setToasts((all) => all.filter((t) => t.id !== id)), []);
  const push = useCallback(
    (kind: Toast["kind"], text: string) => {
      const id = Date.now() + Math.random();
      setToasts((all) => [...all.slice(-3), { id, kind, text }]);
      if (kind === "success") setTimeout(() => dismiss(id), SHOWN_MS);
    },
    [dismiss],
  );
  const [show] = useState<Show>(() => ({
    success: (text) => push("success", text),
    failure: (error) => push("error", describe(error)),
  }));
  return (
    <Toasts.Provider value={show}>
      {children}
      <div className="toasts" role="status" aria-live="polite">
        {toasts.map((t) => (
          <div key={t.id} className={`toast toast-${t.kind}`}>
            <span>{t.text}</span>
            <button type="button" className="toast-close" aria-label="Dismiss" onClick={() => dismiss(t.id)}>
              ×
            </button>
          </div>
        ))}
      </div>
    </Toasts.Provider>
  );
}

/// Shows what an action did: `toast.success("Saved.")`, `toast.failure(error)`.
export function useToast(): Show {
  return useContext(Toasts);
}
