// The inbox demo in headless Chromium against a real `herald serve`: messages and the
// unread badge arrive live over EventSource, and over WebSocket in a page without
// EventSource. Screenshots go to test-output/.
//
// Usage: HERALD_BIN=target/debug/herald node admin-ui/e2e/inbox-demo.mjs
import { mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import assert from "node:assert/strict";
import { apiSession, launchChromium, startHerald, subscriberToken } from "./herald.mjs";

const SECRET = "a-product-secret-of-more-than-32-characters";
const PASSWORD = "browser-test-password";
const output = resolve(process.env.TEST_OUTPUT ?? "test-output");
mkdirSync(output, { recursive: true });

const { base, child, dataDir } = await startHerald({ adminPassword: PASSWORD, env: { HERALD_AUTH__SUBSCRIBER_TOKEN_SECRET: SECRET } });
const browser = await launchChromium();
try {
  const call = await apiSession(base, "admin", PASSWORD);
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

    await page.goto(`${base}/demo?token=${subscriberToken(SECRET, "web-1")}`);
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
