// Types of the Herald inbox client: `/sdk/herald.mjs` (ES module) and `/sdk/herald.js`
// (classic script, `window.Herald`).

/** An inbox item as the inbox routes and streams give it. */
export interface InboxItem {
  /** Grows with every item: the resume cursor. */
  id: number;
  category: string;
  title: string;
  body: string;
  data: Record<string, unknown>;
  created_at: string;
  read_at: string | null;
  archived_at: string | null;
}

/** The unread count and its version (higher is newer). */
export interface Unread {
  count: number;
  version: number;
}

export type Transport = "sse" | "ws" | "longpoll";

export interface ConnectOptions {
  /** Where Herald runs; default: the page's origin. */
  url?: string;
  /** A subscriber token, or a function giving a fresh one (called on every reconnect). */
  token: string | (() => string | Promise<string>);
  /** Transports in order of preference; default: sse, ws, longpoll. */
  transports?: Transport[];
  /** A transport that delivers nothing this long after opening hands over to the next (ms, default 10,000). */
  openTimeoutMs?: number;
  /** On a fallback, how often the first transport is tried again (ms, default 60,000). */
  climbBackMs?: number;
  /** Each new item, once, in order. */
  onMessage?(item: InboxItem): void;
  /** The unread badge. */
  onUnread?(count: number): void;
  /** Items read elsewhere; no ids: all of them. */
  onRead?(ids?: number[]): void;
  /** Items the sender recalled: remove them from what is shown. */
  onRecall?(ids: number[]): void;
  onStatus?(transport: Transport, state: "open" | "closed"): void;
}

export interface Inbox {
  /** Marks one item read; resolves with the new unread pair. */
  markRead(id: number): Promise<Unread>;
  /** Marks every item read; resolves with the new unread pair. */
  markAllRead(): Promise<Unread>;
  close(): void;
}

/** Herald refused a call: the HTTP status and the error body's code and message. */
export declare class HeraldError extends Error {
  readonly status: number;
  /** Herald's error code, e.g. `not_found`. */
  readonly code: string;
  /** The input field at fault, when there is one. */
  readonly field: string | null;
}

export declare function connect(options: ConnectOptions): Inbox;

declare const Herald: { connect: typeof connect; HeraldError: typeof HeraldError };
export default Herald;

declare global {
  interface Window {
    Herald: typeof Herald;
  }
}
