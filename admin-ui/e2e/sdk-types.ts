// Compiled, not run, by scripts/browser-test: the client's declarations
// (api/static/herald.d.ts) describe it as a page uses it.
import Herald, { connect, HeraldError, type InboxItem, type Unread } from "../../api/static/herald";

const inbox = connect({
  url: "https://herald.example",
  token: async () => "a token",
  openTimeoutMs: 5000,
  climbBackMs: 30000,
  onMessage: (item: InboxItem) => console.log(item.id, item.title, item.data),
  onUnread: (count: number) => console.log(count),
  onRead: (ids?: number[]) => console.log(ids?.length ?? "all"),
  onStatus: (transport, state) => console.log(`${transport}:${state}`),
});
inbox.markRead(1).then(
  (pair: Unread) => pair.count + pair.version,
  (error: unknown) => error instanceof HeraldError && `${error.status} ${error.code} ${error.field}`,
);
inbox.markAllRead();
inbox.close();
Herald.connect({ token: "t" }).close();
window.Herald.connect({ token: "t" });
