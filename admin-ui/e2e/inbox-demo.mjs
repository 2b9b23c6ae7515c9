// The inbox demo in headless Chromium against a real `herald serve`: messages and the
// unread badge arrive live over EventSource, and over WebSocket in a page without
// EventSource. Screenshots go to test-output/.
//
// Usage: HERALD_BIN=target/debug/herald node admin-ui/e2e/inbox-demo.mjs
import { createHmac } from "node:crypto";
import { mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import assert from "node:assert/strict";
import { launchChromium, startHerald } from "./herald.mjs";

const SECRET = "a-product-secret-of-more-than-32-characters";
const PASSWORD = "browser-test-password";
const output = resolve(process.env.TEST_OUTPUT ?? "test-output");
mkdirSync(output, { recursive: true });

// A subscriber token as a product backend signs it (HS256 JWT, `sub`, `aud`, `iat`, `exp`).
function token(externalId) {
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${encode({ alg: "HS256", typ: "JWT" })}.${encode({
    sub: externalId,
    aud: "herald",
    iat: now,
    exp: now + 600,
  })}`;
  return `${unsigned}.${createHmac("sha256", SECRET).update(unsigned).digest("base64url")}`;
}

// An operator session: every call sends the cookie and the CSRF token.
async function login(base) {
  const response = await fetch(`${base}/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: "admin", password: PASSWORD }),
  });
  assert.equal(response.status, 200);
  // Every cookie the login set (the session and the CSRF cookie, in any order).
  const cookie = response.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const { csrf_token } = await response.json();
  return async (method, path, body, extra = {}) => {
    const answer = await fetch(`${base}${path}`, {
      method,
      headers: { "content-type": "application/json", cookie, "x-csrf-token": csrf_token, ...extra },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    assert.ok(answer.ok, `${method} ${path}: ${answer.status} ${await answer.clone().text()}`);
    return answer.json();
  };
}

const { base, child, dataDir } = await startHerald({ adminPassword: PASSWORD, env: { HERALD_AUTH__SUBSCRIBER_TOKEN_SECRET: SECRET } });
const browser = await launchChromium();
try {
  const call = await login(base);
  await call("PUT", "/v1/subscribers/web-1", {});
  const template = await call("POST", "/v1/templates", {
    name: "welcome",
    data_keys: ["n"],
    content: { inbox: { title: "Hello {{ subscriber.external_id }}", body: "Message {{ data.n }}" } },
  });
  let sent = 0;
  const send = () =>
    call("POST", "/v1/messages", {
      recipients: ["web-1"], template_id: template.template.id, channels: ["inbox"],
      category: "news", data: { n: String(++sent) },
    }, { "idempotency-key": `browser-${sent + 1}` });

  for (const mode of [
    { name: "eventsource", transport: "sse", init: null },
    { name: "websocket", transport: "ws", init: () => { delete window.EventSource; } },
  ]) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    if (mode.init) await context.addInitScript(mode.init);
    const page = await context.newPage();
    const errors = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (message) => message.type() === "error" && errors.push(message.text()));

    await page.goto(`${base}/demo?token=${token("web-1")}`);
    await page.getByText(`${mode.transport}: open`).waitFor({ timeout: 15000 });
    const before = await page.locator("article.item").count();
    await send();
    await page.getByText(`Message ${sent}`).waitFor({ timeout: 15000 });
    assert.equal(await page.locator("article.item").count(), before + 1, mode.name);
    // Each mode starts with everything read: the new message makes the red dot say 1.
    await page.locator("#badge", { hasText: "1" }).waitFor({ timeout: 15000 });
    await page.screenshot({ path: join(output, `inbox-demo-${mode.name}.png`) });

    // Reading it clears the red dot.
    await page.locator("article.item").first().getByRole("button", { name: "Mark read" }).click();
    await page.locator("#badge").waitFor({ state: "hidden", timeout: 15000 });
    assert.deepEqual(errors, [], `no console errors over ${mode.name}`);
    await context.close();
    console.log(`inbox demo over ${mode.name}: message and badge arrived live`);
  }
} finally {
  await browser.close();
  child.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
}
