// The inbox client (`/sdk/herald.mjs`) recovering on its own, in headless Chromium,
// through a proxy in front of a real `herald serve`:
// - the proxy buffers SSE (as nginx does with buffering on) and refuses WebSocket
//   upgrades: the client falls back to long-polling and gets each item;
// - a refused call (`markRead` of an unknown id) rejects with the error, and the unread
//   badge is left as it was;
// - the proxy stops buffering: the client climbs back from long-polling to SSE;
// - Herald is killed and started again on the same data: the client reconnects and
//   gets every item sent meanwhile, none twice;
// - the sender recalls an item: the client's onRecall gets its id and the badge drops.
//
// Usage: HERALD_BIN=target/debug/herald node admin-ui/e2e/sdk.mjs
import { createServer, request } from "node:http";
import { connect as tcpConnect } from "node:net";
import assert from "node:assert/strict";
import { apiSession, launchChromium, startHerald, subscriberToken } from "./herald.mjs";

const SECRET = "a-product-secret-of-more-than-32-characters";
const PASSWORD = "browser-test-password";

// A reverse proxy to `proxy.upstream` (changeable: a restarted Herald has a new port).
// With `proxy.degraded`, event streams are held until they end, as a buffering proxy
// does, and WebSocket upgrades are refused; otherwise upgrades are passed through as
// bytes.
function startProxy() {
  const proxy = { upstream: null, degraded: true };
  const server = createServer((incoming, outgoing) => {
    const target = new URL(proxy.upstream);
    const forward = request({
      host: target.hostname, port: target.port, method: incoming.method,
      path: incoming.url, headers: incoming.headers,
    }, (answer) => {
      // Cut off upstream (Herald killed): end the client's response too.
      answer.on("aborted", () => outgoing.destroy());
      answer.on("error", () => outgoing.destroy());
      const held = proxy.degraded && incoming.url.startsWith("/v1/stream/sse");
      if (!held) {
        outgoing.writeHead(answer.statusCode, answer.headers);
        answer.pipe(outgoing);
        return;
      }
      const chunks = [];
      answer.on("data", (chunk) => chunks.push(chunk));
      answer.on("end", () => {
        outgoing.writeHead(answer.statusCode, answer.headers);
        outgoing.end(Buffer.concat(chunks));
      });
    });
    forward.on("error", () => outgoing.destroy());
    outgoing.on("close", () => forward.destroy());
    incoming.pipe(forward);
  });
  server.on("upgrade", (incoming, socket, head) => {
    if (proxy.degraded) {
      socket.end("HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n");
      return;
    }
    const target = new URL(proxy.upstream);
    const upstream = tcpConnect(Number(target.port), target.hostname, () => {
      const lines = [`${incoming.method} ${incoming.url} HTTP/1.1`];
      for (let i = 0; i < incoming.rawHeaders.length; i += 2) {
        lines.push(`${incoming.rawHeaders[i]}: ${incoming.rawHeaders[i + 1]}`);
      }
      upstream.write(lines.join("\r\n") + "\r\n\r\n");
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    const drop = () => { upstream.destroy(); socket.destroy(); };
    upstream.on("error", drop);
    socket.on("error", drop);
    upstream.on("close", drop);
    socket.on("close", drop);
  });
  return new Promise((done) => server.listen(0, "127.0.0.1", () => {
    proxy.base = `http://127.0.0.1:${server.address().port}`;
    proxy.close = () => { server.closeAllConnections(); server.close(); };
    done(proxy);
  }));
}


async function until(what, check, ms = 30000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(value)}`);
    await new Promise((wait) => setTimeout(wait, 100));
  }
}

const env = { HERALD_AUTH__SUBSCRIBER_TOKEN_SECRET: SECRET };
let herald = await startHerald({ adminPassword: PASSWORD, env });
const proxy = await startProxy();
proxy.upstream = herald.base;
const browser = await launchChromium();
try {
  let call = await apiSession(herald.base, "admin", PASSWORD);
  await call("PUT", "/v1/subscribers/web-1", {});
  const template = await call("POST", "/v1/templates", {
    name: "note", data_keys: ["n"],
    content: { inbox: { title: "Note {{ data.n }}", body: "Message {{ data.n }}" } },
  });
  let sent = 0;
  const send = () => {
    const n = ++sent;
    return call("POST", "/v1/messages", {
      recipients: ["web-1"], template_id: template.template.id, channels: ["inbox"],
      category: "news", data: { n: String(n) },
    }, { "idempotency-key": `sdk-${n}` });
  };

  const page = await browser.newPage();
  const errors = [];
  page.on("pageerror", (error) => errors.push(error.message));
  // A page of the proxy's origin, which the client's calls go to.
  await page.goto(`${proxy.base}/healthz`);
  await page.evaluate(async ({ base, token }) => {
    const { connect } = await import(`${base}/sdk/herald.mjs`);
    window.seen = [];
    window.statuses = [];
    window.unread = null;
    window.recalled = [];
    window.inbox = connect({
      url: base, token, openTimeoutMs: 2000, climbBackMs: 3000,
      onMessage: (item) => window.seen.push(item.title),
      onUnread: (count) => { window.unread = count; },
      onRecall: (ids) => window.recalled.push(...ids),
      onStatus: (transport, state) => window.statuses.push(`${transport}:${state}`),
    });
  }, { base: proxy.base, token: subscriberToken(SECRET, "web-1") });
  const state = () =>
    page.evaluate(() => ({ seen: window.seen, statuses: window.statuses, unread: window.unread, recalled: window.recalled }));

  // SSE is buffered (nothing arrives on it) and WebSocket refused: the client moves on
  // to long-polling.
  await until("the fall back to long-polling", async () => (await state()).statuses.includes("longpoll:open"));
  assert.deepEqual((await state()).statuses.slice(0, 3), ["sse:closed", "ws:closed", "longpoll:open"]);
  await send();
  await until("item 1 over long-polling", async () => (await state()).seen.includes("Note 1"));
  assert.equal((await state()).unread, 1);

  // A refused call rejects with Herald's error, and the badge stays as it was.
  const refused = await page.evaluate(() =>
    window.inbox.markRead(987654321).then(
      (pair) => ({ resolved: pair }),
      (error) => ({ name: error.name, status: error.status, code: error.code, message: error.message })));
  assert.equal(refused.name, "HeraldError", JSON.stringify(refused));
  assert.equal(refused.status, 404);
  assert.equal(refused.code, "not_found");
  assert.equal((await state()).unread, 1, "an error body is not an unread pair");

  // The proxy works again: the client climbs back to SSE and keeps receiving.
  proxy.degraded = false;
  await until("the climb back to SSE", async () => (await state()).statuses.includes("sse:open"));
  await send();
  await until("item 2 over SSE", async () => (await state()).seen.includes("Note 2"));

  // Herald is killed mid-stream and started again on its data; items sent before the
  // client is back arrive once it resumes.
  herald.child.kill("SIGKILL");
  await new Promise((done) => herald.child.once("exit", done));
  herald = await startHerald({ adminPassword: PASSWORD, env, dataDir: herald.dataDir });
  proxy.upstream = herald.base;
  call = await apiSession(herald.base, "admin", PASSWORD);
  await send();
  const fourth = await send();
  const deadline = Date.now() + 59000;
  await until("items 3 and 4 after the restart", async () => {
    const now = await state();
    return now.seen.includes("Note 4") || (Date.now() > deadline && now);
  }, 60000);
  await new Promise((wait) => setTimeout(wait, 1000));
  const final = await state();
  assert.deepEqual(final.seen, ["Note 1", "Note 2", "Note 3", "Note 4"], `each item once, in order: ${JSON.stringify(final)}`);
  assert.equal(final.unread, 4);

  // The sender recalls the fourth: the client is told which item went, and the badge drops.
  const report = await call("POST", `/v1/messages/${fourth.id}/recall`);
  assert.equal(report.withdrawn, 1);
  await until("the recall", async () => (await state()).recalled.length === 1);
  await until("the badge after the recall", async () => (await state()).unread === 3);
  assert.deepEqual(errors, [], "no errors on the page");
  console.log(`sdk: ${final.statuses.join(" ")}; recalled item ${(await state()).recalled[0]}`);
} finally {
  await browser.close();
  proxy.close();
  herald.child.kill();
}
