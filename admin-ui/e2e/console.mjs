// The admin console in headless Chromium against a real `herald serve` and a local
// webhook receiver (a Node HTTP server in this test that records requests, answers 200):
// an admin adds a webhook channel in the console and test-sends to the receiver; an
// editor writes a template (inbox, email, webhook), builds an audience and a campaign,
// simulates and submits it and sees no approve button; a reviewer approves it; the
// editor schedules it, the receiver gets one signed request per subscriber, and the
// dashboard shows it complete; an auditor (viewer) opens the report, checks its numbers,
// downloads its CSV, filters the delivery log to one subscriber's trace and downloads
// that CSV, finds the subscriber by typing the start of their id, opens their page from
// the keyboard and sees the campaign's inbox message unread, then read. Also: rules of
// every kind and a block list import, admin screens (SMTP and MQTT channels from their
// forms), the kill switch (a reviewer stops all sending, the banner shows on every page,
// an admin stops a channel and releases both), recalling the campaign, a subscriber
// created, edited, given an endpoint and deleted (each outcome in a toast), a CSV
// import with a refused row, a rule
// backtested on the delivery log, session expiry, a narrow (390px)
// window, and a keyboard-only
// walk from login through the campaign wizard. Screenshots of every main screen go to
// $TEST_OUTPUT (test-output/); any console error fails the test.
//
// Usage: (cd admin-ui && npm run build) && HERALD_BIN=target/debug/herald node admin-ui/e2e/console.mjs
import { createHmac, generateKeyPairSync } from "node:crypto";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { join, resolve } from "node:path";
import assert from "node:assert/strict";
import { apiSession, launchChromium, startHerald } from "./herald.mjs";

const ADMIN_PASSWORD = "console-test-admin-password";
const PASSWORD = "console-test-password";
const output = resolve(process.env.TEST_OUTPUT ?? "test-output");
mkdirSync(output, { recursive: true });

// The local webhook receiver: records every request and answers 200.
async function startReceiver() {
  const requests = [];
  const server = createHttpServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      requests.push({ path: request.url, headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
      // A receiver that pushes back, for the pacing table.
      const status = request.url === "/throttled" ? 429 : 200;
      response.writeHead(status, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise((done) => server.listen(0, "127.0.0.1", done));
  return { url: `http://127.0.0.1:${server.address().port}`, requests, server };
}

async function until(what, check, ms = 30000) {
  for (const start = Date.now(); Date.now() - start < ms; await new Promise((wait) => setTimeout(wait, 200))) {
    if (check()) return;
  }
  throw new Error(`timed out waiting for ${what}`);
}

const receiver = await startReceiver();
// Pacing is published every heartbeat: a second here.
const { base, child, dataDir } = await startHerald({ adminPassword: ADMIN_PASSWORD, env: { HERALD_DELIVERY__HEARTBEAT_SECS: "1" } });
const browser = await launchChromium();

// Console errors of every page. A request the flow expects to fail (a validation error
// shown inline, a 401 after the session was ended) is allowed by status while `expect`
// runs; anything else fails the test at the end.
const errors = [];
let allowedStatuses = [];
async function expectFailures(statuses, step) {
  allowedStatuses = statuses;
  try {
    await step();
  } finally {
    allowedStatuses = [];
  }
}

const pages = [];
async function newPage(width = 1280, height = 860) {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  pages.push(page);
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() !== "error") return;
    const text = message.text();
    const status = /status of (\d{3})/.exec(text)?.[1];
    if (status && allowedStatuses.includes(Number(status))) return;
    errors.push(`console: ${text} (${message.location().url})`);
  });
  return { context, page };
}

// From the top: a full-page shot of a scrolled page paints the sticky top bar mid-page.
async function shot(page, name) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(output, `console-${name}.png`), fullPage: true });
}

async function logIn(page, username, password = PASSWORD, { stay = false } = {}) {
  if (!stay) await page.goto(`${base}/`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("button", { name: "Log out" }).waitFor();
}

// Presses Tab until the focused element's label (or text) matches: the keyboard walk.
async function tabTo(page, name, max = 80) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => {
      const el = document.activeElement;
      if (!el) return "";
      const labelled = el.labels?.[0]?.textContent ?? el.getAttribute("aria-label");
      return (labelled ?? el.textContent ?? "").trim();
    });
    if (name.test(focused)) return;
  }
  throw new Error(`Tab never reached ${name}`);
}

const nav = (page, name) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });

try {
  // Setup through the API: the operators, and subscribers to send to.
  const admin = await apiSession(base, "admin", ADMIN_PASSWORD);
  for (const [username, role, display_name] of [
    ["edith", "editor", "Edith Editor"],
    ["rita", "reviewer", "Rita Reviewer"],
    ["vic", "viewer", "Vic Viewer"],
  ]) {
    await admin("POST", "/v1/operators", { username, password: PASSWORD, role, display_name });
  }
  for (let i = 1; i <= 5; i++) {
    await admin("PUT", `/v1/subscribers/u${i}`, {
      email: `u${i}@example.com`,
      timezone: i % 2 ? "Europe/Berlin" : "America/New_York",
      tags: i <= 3 ? ["vip"] : ["trial"],
    });
    await admin("POST", `/v1/subscribers/u${i}/endpoints`, { channel: "webhook", address: `${receiver.url}/hook/u${i}` });
  }

  // ---- an admin sets up the webhook channel in the console and test-sends ----
  const { page: adminPage } = await newPage();
  await logIn(adminPage, "admin", ADMIN_PASSWORD);
  await nav(adminPage, "Channels").click();
  await adminPage.getByText("No channel instances yet.").waitFor();
  await adminPage.getByLabel("Kind").selectOption("webhook");
  await adminPage.getByLabel("Name", { exact: true }).fill("partner-webhook");
  await adminPage.getByRole("button", { name: "Generate" }).click();
  assert.match(await adminPage.getByLabel("Signing secret").inputValue(), /^whsec_/);
  await adminPage.getByLabel("Private addresses allowed").fill("127.0.0.1/32");
  await adminPage.getByRole("button", { name: "Add channel" }).click();
  await adminPage.getByRole("heading", { name: /partner-webhook/ }).waitFor();
  await adminPage.getByLabel("Send a test to").fill(`${receiver.url}/test`);
  await adminPage.getByRole("button", { name: "Send test" }).click();
  await adminPage.getByText("Test delivered.").waitFor();
  assert.equal(receiver.requests.filter((r) => r.path === "/test").length, 1, "the test send reached the receiver");
  await shot(adminPage, "channels");
  // A second webhook instance: a campaign may choose between the two.
  await admin("POST", "/v1/channels", {
    name: "spare-webhook",
    settings: { kind: "webhook", secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", allow_list: ["127.0.0.1/32"] },
  });

  // A receiver that answers 429: the worker paces that lane, and the Channels page says so.
  await admin("PUT", "/v1/subscribers/slow", {});
  await admin("POST", "/v1/subscribers/slow/endpoints", { channel: "webhook", address: `${receiver.url}/throttled` });
  await admin("POST", "/v1/messages", { recipients: ["slow"], channels: ["webhook"], category: "orders", content: { webhook: { payload: "{\"n\": 1}" } } },
    { "idempotency-key": "console-test-throttled" });
  await until("a push-back", () => receiver.requests.some((r) => r.path === "/throttled"));
  const pacing = adminPage.locator("section", { has: adminPage.getByRole("heading", { name: "Pacing" }) });
  for (const start = Date.now(); !(await pacing.getByRole("cell", { name: "partner-webhook" }).count()); ) {
    assert.ok(Date.now() - start < 30000, "the paced lane is shown");
    await adminPage.reload();
    await adminPage.waitForTimeout(500);
  }
  const lane = pacing.locator("tbody tr", { hasText: "partner-webhook" });
  await lane.getByRole("cell", { name: "127.0.0.1" }).waitFor();
  assert.match(await lane.locator("td[data-label=Pace]").textContent(), /^\d+\.\d\/s$/, "a pace in sends per second");
  await pacing.scrollIntoViewIfNeeded();
  await shot(adminPage, "channels-pacing");
  await admin("DELETE", "/v1/subscribers/slow");

  // ---- the editor ----
  const { page: editor } = await newPage();
  await editor.goto(`${base}/campaigns/new`);
  await editor.getByRole("heading", { name: "Log in to Herald" }).waitFor();
  await shot(editor, "login");
  await logIn(editor, "edith", PASSWORD, { stay: true });
  // Logging in from a deep link lands on that page.
  await editor.getByRole("heading", { name: "New campaign" }).waitFor();
  assert.equal(await nav(editor, "Review queue").count(), 0, "an editor has no review queue");
  assert.equal(await nav(editor, "Operators").count(), 0, "an editor does not manage operators");

  await nav(editor, "Templates").click();
  await editor.getByText("No templates yet.").waitFor();
  await editor.getByRole("link", { name: "New template" }).click();
  await editor.getByLabel("Name").fill("spring-welcome");
  await editor.getByLabel("Data keys").fill("promo");
  await editor.getByLabel("Title").fill("Hello {{ subscriber.emial }}");
  await editor.getByLabel("Body", { exact: true }).fill("Your code: {{ data.promo }}");
  // The API refuses the unknown variable; the message sits at the field.
  await expectFailures([422], async () => {
    await editor.getByRole("button", { name: "Create template" }).click();
    await editor.locator(".field-error", { hasText: "unknown variable `subscriber.emial`" }).waitFor();
  });
  await shot(editor, "template-variable-error");
  await editor.getByLabel("Title").fill("Hello {{ subscriber.email }}");
  await editor.getByRole("tab", { name: /Email/ }).click();
  await editor.getByLabel("Send on email").check();
  await editor.getByLabel("Subject").fill("Spring is here, {{ subscriber.external_id }}");
  await editor.getByLabel("Plain-text body").fill("Use {{ data.promo }} at checkout.");
  await editor.getByLabel("From (optional)").fill("Shop News <news@shop.example>");
  await editor.getByLabel("Reply-To (optional)").fill("care@shop.example");
  await editor.getByRole("tab", { name: /Webhook/ }).click();
  await editor.getByLabel("Send on webhook").check();
  await editor.getByLabel("Payload (JSON)").fill('{"user": {{ subscriber.external_id }}, "promo": {{ data.promo }}}');
  await editor.getByRole("button", { name: "Create template" }).click();
  await editor.waitForURL(/\/templates\/\d+$/);
  await editor.getByRole("heading", { name: "spring-welcome" }).waitFor();
  // The preview renders the saved version for a chosen subscriber and data.
  await editor.getByLabel("Subscriber").fill("u2");
  await editor.getByLabel("data.promo").fill("SPRING25");
  await editor.getByText("Hello u2@example.com").waitFor();
  await editor.getByText("Use SPRING25 at checkout.").waitFor();
  // A second version appears in the history.
  await editor.getByRole("tab", { name: /Inbox/ }).click();
  await editor.getByLabel("Body", { exact: true }).fill("Your code: {{ data.promo }}. Enjoy!");
  // The preview follows unsaved changes once typing pauses, for the same subscriber
  // and data.
  await editor.getByText("The preview shows your unsaved changes.").waitFor();
  await editor.locator(".preview").getByText("Your code: SPRING25. Enjoy!").waitFor();
  await shot(editor, "template-draft-preview");
  await editor.getByRole("button", { name: "Save new version" }).click();
  await editor.getByText("Saved as version 2.").waitFor();
  await editor.getByText("Your code: SPRING25. Enjoy!").waitFor();
  await editor.locator(".versions li").nth(1).waitFor();
  assert.equal(await editor.locator(".versions li").count(), 2);
  await shot(editor, "template-editor");
  const templateId = Number(editor.url().split("/").pop());
  const [newest] = (await admin("GET", `/v1/templates/${templateId}/versions`)).sort((a, b) => b.version - a.version);
  assert.equal(newest.version, 2);
  assert.equal(newest.content.email.from, "Shop News <news@shop.example>", "the sender is kept in each new version");
  assert.equal(newest.content.email.reply_to, "care@shop.example");

  // An audience from a segment, with its live count.
  await nav(editor, "Audiences").click();
  await editor.getByRole("link", { name: "New audience" }).click();
  await editor.getByLabel("Name").fill("VIPs");
  await editor.getByLabel("Tags", { exact: true }).fill("vip");
  await editor.locator(".live-count", { hasText: "3 subscribers match now" }).waitFor();
  await shot(editor, "audience-builder");
  await editor.getByRole("button", { name: "Create audience" }).click();
  await editor.getByRole("heading", { name: "VIPs" }).waitFor();
  await editor.locator(".stat", { hasText: "subscribers now" }).getByText("3").waitFor();

  // The campaign wizard.
  await nav(editor, "Campaigns").click();
  await editor.getByText("No campaigns yet.").waitFor();
  await editor.getByRole("link", { name: "New campaign" }).first().click();
  await editor.getByLabel("Campaign name").fill("Spring promo");
  await editor.getByLabel("Category").fill("promotions");
  await editor.getByLabel("Template").selectOption({ label: "spring-welcome" });
  await editor.getByLabel("data.promo").fill("SPRING25");
  await editor.getByRole("button", { name: "Next" }).click();
  await editor.getByLabel("Audience", { exact: true }).selectOption({ label: "VIPs (segment)" });
  await editor.getByText("3 subscribers right now").waitFor();
  await editor.getByRole("button", { name: "Next" }).click();
  assert.ok(await editor.getByLabel("inbox").isChecked(), "the template's channels are chosen");
  assert.ok(await editor.getByLabel("email").isChecked());
  assert.ok(await editor.getByLabel("webhook", { exact: true }).isChecked());
  assert.ok(await editor.getByLabel("push").isDisabled(), "a channel without content cannot be chosen");
  await editor.getByLabel("email").uncheck();
  // Two webhook instances: the campaign chooses one (the default is the first by name).
  const through = editor.getByLabel("Send webhook through");
  assert.equal(await through.inputValue(), "", "the default until one is chosen");
  await through.selectOption("partner-webhook");
  await shot(editor, "campaign-wizard-channels");
  await editor.getByRole("button", { name: "Next" }).click();
  await editor.getByLabel("At a local time").check();
  await editor.getByLabel("Date", { exact: true }).fill("2031-05-04");
  await editor.getByLabel("Local time", { exact: true }).fill("09:30");
  await shot(editor, "campaign-wizard-schedule");
  await editor.getByLabel("Right away").check();
  await editor.getByRole("button", { name: "Next" }).click();
  await editor.getByText("Right after it is scheduled").waitFor();
  await editor.locator("dd", { hasText: "partner-webhook" }).waitFor();
  await editor.getByRole("button", { name: "Create draft" }).click();
  await editor.waitForURL(/\/campaigns\/\d+$/);
  const campaignUrl = editor.url();
  const created = await admin("GET", `/v1/campaigns/${campaignUrl.split("/").pop()}`);
  assert.deepEqual(created.instances, ["partner-webhook"], "the campaign keeps the instance it chose");
  await editor.getByRole("heading", { name: /Spring promo/ }).waitFor();

  await editor.getByRole("button", { name: "Simulate" }).click();
  await editor.locator(".stat", { hasText: "would be sent" }).getByText("6", { exact: true }).waitFor();
  await editor.getByText("Hello u1@example.com").waitFor();
  await shot(editor, "campaign-draft");
  await editor.getByLabel("Note for the reviewer (optional)").fill("Spring campaign for VIPs");
  await editor.getByRole("button", { name: "Submit for review" }).click();
  await editor.getByText("The campaign is now in review.").waitFor();
  assert.equal(await editor.getByRole("button", { name: "Approve" }).count(), 0, "no approve button for the editor");
  await editor.getByText("Waiting for a reviewer.").waitFor();
  await shot(editor, "campaign-in-review");

  // ---- the reviewer ----
  const { page: reviewer } = await newPage();
  await logIn(reviewer, "rita");
  await nav(reviewer, "Review queue").click();
  await reviewer.getByRole("link", { name: "Spring promo" }).waitFor();
  await reviewer.getByText("Submitted by edith").waitFor();
  await shot(reviewer, "review-queue");
  await reviewer.getByRole("link", { name: "Review", exact: true }).click();
  // Content and simulation side by side; the simulation runs by itself.
  await reviewer.getByText("Hello u1@example.com").waitFor();
  await reviewer.locator(".stat", { hasText: "would be sent" }).getByText("6", { exact: true }).waitFor();
  assert.equal(await reviewer.getByRole("link", { name: "Edit" }).count(), 0, "a reviewer cannot edit");
  await shot(reviewer, "review");
  await reviewer.getByLabel("Review comment").fill("Looks good.");
  await reviewer.getByRole("button", { name: "Approve" }).click();
  await reviewer.getByText("The campaign is now approved.").waitFor();
  await reviewer.locator("blockquote", { hasText: "Looks good." }).waitFor();

  // ---- the editor schedules it and watches it go out ----
  await editor.goto(campaignUrl);
  await editor.getByRole("button", { name: "Schedule" }).click();
  await editor.locator(".progress-caption", { hasText: "6 delivered of 6 targeted" }).waitFor({ timeout: 30000 });
  await editor.locator(".badge", { hasText: "completed" }).first().waitFor({ timeout: 30000 });
  await shot(editor, "campaign-completed");
  // One signed request per VIP reached the receiver, with the rendered payload.
  await until("three webhook requests", () => receiver.requests.filter((r) => r.path.startsWith("/hook/")).length >= 3);
  const hooks = receiver.requests.filter((r) => r.path.startsWith("/hook/"));
  assert.deepEqual(hooks.map((r) => r.path).sort(), ["/hook/u1", "/hook/u2", "/hook/u3"]);
  for (const hook of hooks) {
    assert.ok(hook.headers["webhook-signature"], "a signed webhook");
    assert.ok(hook.body.includes("SPRING25"), hook.body);
  }

  // A second campaign at 09:00 in each subscriber's own time zone tomorrow, set up
  // through the API: it waits, deferred, and the dashboard shows it live.
  const edith = await apiSession(base, "edith", PASSWORD);
  const rita = await apiSession(base, "rita", PASSWORD);
  const [template] = await edith("GET", "/v1/templates");
  const [audience] = await edith("GET", "/v1/audiences");
  const tomorrow = new Date(Date.now() + 36 * 3600 * 1000).toISOString().slice(0, 10);
  const digest = await edith("POST", "/v1/campaigns", {
    name: "Weekend digest", template_id: template.id, audience_id: audience.id, channels: ["inbox"],
    category: "news", data: { promo: "WEEKEND" }, schedule: { kind: "local_time", date: tomorrow, time: "09:00" },
  });
  await edith("POST", `/v1/campaigns/${digest.id}/submit`, {});
  await rita("POST", `/v1/campaigns/${digest.id}/approve`, { comment: "ok" });
  await edith("POST", `/v1/campaigns/${digest.id}/schedule`, {});

  await nav(editor, "Dashboard").click();
  await editor.locator(".bar-row", { hasText: "inbox" }).getByText("100%").waitFor();
  await editor.locator(".bar-row", { hasText: "webhook" }).getByText("100%").waitFor();
  const finished = editor.locator("section", { has: editor.getByRole("heading", { name: "Recently finished" }) }).locator("li", { hasText: "Spring promo" });
  await finished.locator(".badge", { hasText: "completed" }).waitFor();
  await finished.locator(".progress-caption", { hasText: "6 delivered of 6 targeted" }).waitFor();
  // The campaign's six, and the throttled send to `slow`: deleting a subscriber keeps
  // their deliveries in the log and the reports.
  await editor.locator(".stat", { hasText: "Sends today" }).getByText("7", { exact: true }).waitFor();
  await editor.locator(".live-list li", { hasText: "Weekend digest" }).locator(".progress-caption").waitFor();
  await shot(editor, "dashboard");
  await nav(editor, "Delivery log").click();
  await editor.getByRole("cell", { name: "u1", exact: true }).first().waitFor();
  await editor.getByRole("button", { name: "Trace" }).first().click();
  await editor.locator(".trace").getByText(/Delivery #\d+/).waitFor();
  await shot(editor, "deliveries");
  await nav(editor, "Dead letters").click();
  await editor.getByText("No dead letters.").waitFor();

  // The session ends on the server: the next request brings back the login page.
  await expectFailures([401], async () => {
    await editor.context().clearCookies();
    await nav(editor, "Templates").click();
    await editor.getByText("Log in again to continue").waitFor();
  });
  await shot(editor, "session-ended");
  // Logging in again stays on the page the operator was on.
  await logIn(editor, "edith", PASSWORD, { stay: true });
  await editor.getByRole("heading", { name: "Templates" }).waitFor();

  // ---- a viewer sees no edit controls ----
  const { page: viewer } = await newPage();
  await logIn(viewer, "vic");
  await viewer.goto(campaignUrl);
  await viewer.getByRole("heading", { name: /Spring promo/ }).waitFor();
  for (const name of ["Pause", "Cancel campaign", "Approve", "Submit for review"]) {
    assert.equal(await viewer.getByRole("button", { name }).count(), 0, `a viewer has no ${name} button`);
  }
  await nav(viewer, "Templates").click();
  await viewer.getByRole("link", { name: "spring-welcome" }).click();
  await viewer.getByText("You can read templates; editors change them.").waitFor();
  assert.equal(await viewer.getByRole("button", { name: "Save new version" }).count(), 0);
  assert.equal(await viewer.getByRole("link", { name: "New template" }).count(), 0);
  // The auditor's report: outcomes by campaign, channel and status, the funnel, the
  // charts, and CSV downloads of the report and of one subscriber's trace.
  await nav(viewer, "Reports").click();
  await viewer.getByRole("heading", { name: "Reports" }).waitFor();
  const outcomes = viewer.locator("section", { has: viewer.getByRole("heading", { name: /^Outcomes by/ }) });
  const webhookRow = outcomes.locator("tbody tr", { hasText: "Spring promo" }).filter({ hasText: "webhook" });
  await webhookRow.getByRole("cell", { name: "3", exact: true }).waitFor();
  await webhookRow.getByText("delivered").waitFor();
  await viewer.getByRole("img", { name: /Funnel of Spring promo/ }).waitFor();
  await viewer.getByRole("img", { name: /Outcomes on webhook per UTC day/ }).waitFor();
  await viewer.getByText("Nothing was filtered.").waitFor();
  await shot(viewer, "reports");
  await viewer.getByRole("combobox", { name: "Campaign" }).selectOption({ label: "Spring promo" });
  await viewer.getByRole("combobox", { name: "Channel" }).selectOption("webhook");
  await viewer.getByRole("button", { name: "Apply filters" }).click();
  await viewer.waitForURL(/channel=webhook/);
  await outcomes.locator("tfoot").getByText("3", { exact: true }).waitFor();
  const [reportCsv] = await Promise.all([
    viewer.waitForEvent("download"),
    viewer.getByRole("link", { name: "Download CSV of outcomes", exact: true }).click(),
  ]);
  const reportText = readFileSync(await reportCsv.path(), "utf8");
  assert.match(reportText.split("\n")[0], /^campaign_id,campaign_name,message_kind,channel,status,count/);
  assert.match(reportText, /,Spring promo,campaign,webhook,delivered,3/);
  await shot(viewer, "reports-filtered");
  // A period with nothing in it, and one that ends before it starts.
  await viewer.goto(`${base}/reports?from=2030-01-01&to=2030-01-02`);
  await viewer.getByText("No deliveries match these filters.").waitFor();
  await viewer.getByText("No campaign has deliveries in this period.").waitFor();
  await viewer.goto(`${base}/reports?from=2030-01-02&to=2030-01-01`);
  await viewer.getByRole("alert").getByText(/starts \(2030-01-02\) after it ends/).waitFor();

  await nav(viewer, "Delivery log").click();
  await viewer.getByLabel("Subscriber").fill("u2");
  await viewer.getByRole("button", { name: "Apply" }).click();
  await viewer.getByText("Showing every delivery to subscriber").waitFor();
  // The previous page's rows stay on screen until the filtered page arrives.
  await viewer.getByRole("cell", { name: "u1", exact: true }).first().waitFor({ state: "detached" });
  await viewer.locator("tbody tr", { hasText: "webhook" }).getByRole("button", { name: "Trace" }).click();
  await viewer.locator(".trace-why").getByText("Attempts").waitFor();
  await viewer.locator(".attempts li").first().waitFor();
  assert.equal(await viewer.getByRole("cell", { name: "u1", exact: true }).count(), 0, "only u2's deliveries");
  await shot(viewer, "delivery-trace");
  const [logCsv] = await Promise.all([
    viewer.waitForEvent("download"),
    viewer.getByRole("link", { name: "Download CSV of the delivery log" }).click(),
  ]);
  const logText = readFileSync(await logCsv.path(), "utf8").trim().split("\n");
  assert.match(logText[0], /^id,item_id,message_id,recipient,channel,status/);
  assert.ok(logText.slice(1).length >= 2, `u2's deliveries in the CSV: ${logText.join(" / ")}`);
  for (const row of logText.slice(1)) assert.equal(row.split(",")[3], "u2", row);
  assert.ok(logText.some((row) => /,u2,webhook,delivered,/.test(row)), "u2's webhook delivery in the CSV");

  // The same subscriber found by typing the start of their id, opened from the keyboard:
  // endpoints, the inbox as they see it (read or not) and the delivery history.
  await nav(viewer, "Subscribers").click();
  const search = viewer.getByRole("searchbox", { name: "Search" });
  await search.pressSequentially("u", { delay: 50 });
  await viewer.waitForURL(/search=u$/);
  await viewer.getByRole("link", { name: "u5", exact: true }).waitFor();
  assert.equal(await viewer.locator("tbody tr").count(), 5, "every u… subscriber matches u");
  await search.pressSequentially("2", { delay: 50 });
  await viewer.waitForURL(/search=u2$/);
  await viewer.getByRole("link", { name: "u1", exact: true }).waitFor({ state: "detached" });
  assert.equal(await viewer.locator("tbody tr").count(), 1, "only u2 starts with u2");
  await viewer.getByRole("cell", { name: "u2@example.com" }).waitFor();
  await shot(viewer, "subscriber-search");
  await search.fill("nobody");
  await viewer.getByText("No subscriber's external id or email starts with “nobody”.").waitFor();
  await search.fill("u2@");
  await viewer.getByRole("link", { name: "u2", exact: true }).waitFor();
  await search.press("ArrowDown");
  assert.equal(await viewer.evaluate(() => document.activeElement?.textContent), "u2", "the down arrow moves to the first result");
  await viewer.keyboard.press("Enter");
  await viewer.getByRole("heading", { name: "Subscriber u2" }).waitFor();
  await viewer.getByText(`${receiver.url}/hook/u2`).waitFor();
  // The campaign's inbox message to u2, unread.
  const inbox = viewer.locator("section", { has: viewer.getByRole("heading", { name: "Inbox", exact: true }) });
  const inboxRow = inbox.locator("tbody tr", { hasText: "Hello u2@example.com" });
  await inboxRow.getByText("Your code: SPRING25. Enjoy!").waitFor();
  await inboxRow.locator(".badge", { hasText: "unread" }).waitFor();
  await inbox.locator(".card-head .badge", { hasText: "1 unread" }).waitFor();
  const history = viewer.locator("section", { has: viewer.getByRole("heading", { name: "Delivery history" }) });
  await history.getByRole("cell", { name: "webhook" }).waitFor();
  await shot(viewer, "subscriber-detail");
  // u2 reads it in their own client (a subscriber token an admin minted); the page says so.
  const { token } = await admin("POST", "/v1/subscribers/u2/tokens", {});
  const { items: [u2Item], unread } = await admin("GET", "/v1/subscribers/u2/inbox");
  assert.equal(unread.count, 1, "u2 has one unread item");
  const read = await fetch(`${base}/v1/inbox/${u2Item.id}/read`, { method: "POST", headers: { authorization: `Bearer ${token}` } });
  assert.equal(read.status, 200, `mark read: ${await read.clone().text()}`);
  assert.equal((await read.json()).count, 0);
  await viewer.reload();
  await inboxRow.locator(".badge", { hasText: /^read$/ }).waitFor();
  await inbox.locator(".card-head .badge", { hasText: "All read" }).waitFor();
  assert.equal(await inbox.locator(".badge", { hasText: "unread" }).count(), 0, "nothing unread after reading");
  await shot(viewer, "subscriber-inbox-read");
  // Everything held on u2, as one file for their right of access.
  const [exported] = await Promise.all([
    viewer.waitForEvent("download"),
    viewer.getByRole("link", { name: "Export their data (JSON)" }).click(),
  ]);
  const u2Data = JSON.parse(readFileSync(await exported.path(), "utf8"));
  assert.equal(u2Data.subscriber.email, "u2@example.com");
  assert.equal(u2Data.endpoints[0].address, `${receiver.url}/hook/u2`);
  assert.ok(u2Data.inbox.some((item) => item.read_at), "u2's read inbox item");
  assert.ok(u2Data.deliveries.some((d) => d.channel === "webhook" && d.recipient === "u2"), "u2's deliveries");

  await nav(viewer, "Audit log").click();
  await viewer.getByText("campaign.approve").first().waitFor();
  await shot(viewer, "audit-log");

  // ---- admin screens ----
  await nav(adminPage, "Operators").click();
  await adminPage.getByRole("cell", { name: "rita", exact: true }).waitFor();
  await shot(adminPage, "operators");
  await nav(adminPage, "API keys").click();
  await adminPage.getByLabel("Name", { exact: true }).fill("shop");
  await adminPage.getByRole("button", { name: "Create key" }).click();
  await adminPage.getByText("Copy the secret now").waitFor();
  const secret = await adminPage.locator(".secret code").textContent();
  assert.match(secret ?? "", /^hk_/);
  await shot(adminPage, "api-keys");
  // A transactional message to a blocked subscriber: its trace says why not.
  const blockEntry = await admin("POST", "/v1/list-entries", { list: "block", kind: "subscriber", value: "u4", reason: "asked support to stop" });
  await admin("POST", "/v1/messages", { recipients: ["u4"], template_id: 1, channels: ["webhook"], category: "orders", data: { promo: "TX" } },
    { "idempotency-key": "console-test-blocked" });
  await adminPage.goto(`${base}/deliveries?subscriber=u4`);
  await adminPage.locator("tbody tr", { hasText: "webhook" }).locator(".badge", { hasText: "filtered" }).waitFor({ timeout: 30000 });
  await adminPage.getByRole("button", { name: "Trace" }).first().click();
  const why = adminPage.locator(".trace-why");
  await why.getByText(`Blocked · block list entry #${blockEntry.id}`).waitFor();
  await shot(adminPage, "delivery-trace-filtered");
  await admin("DELETE", `/v1/list-entries/${blockEntry.id}`);

  // Rules of every kind from one form; a block list imported from CSV.
  await nav(adminPage, "Rules").click();
  await adminPage.getByText("No rules yet.").waitFor();
  await adminPage.getByText("No list entries.").waitFor();
  await adminPage.getByRole("link", { name: "New rule" }).click();
  await adminPage.getByLabel("Name", { exact: true }).fill("Quiet nights");
  await adminPage.getByLabel("Kind").selectOption("quiet_hours");
  await adminPage.getByLabel("Allowed from").fill("08:00");
  await adminPage.getByLabel("Allowed until").fill("21:00");
  await adminPage.getByLabel("Default time zone").fill("Europe/Berlin");
  await adminPage.getByLabel("Except categories").fill("security");
  await adminPage.getByRole("button", { name: "Create rule" }).click();
  await adminPage.getByRole("link", { name: "Quiet nights" }).waitFor();
  await adminPage.getByText("only 08:00–21:00 local time").waitFor();
  for (const [name, kind, fill] of [
    ["Three a day", "frequency_cap", async () => adminPage.getByLabel("At most").fill("3")],
    ["No spam words", "keyword", async () => adminPage.getByLabel("Banned words").fill("casino\nfree money")],
    ["Once a day", "dedup", async () => adminPage.getByLabel("Window (seconds)").fill("86400")],
    [
      "Daily budget",
      "fatigue_budget",
      async () => {
        await adminPage.getByLabel("At most").fill("20");
        await adminPage.getByLabel("Per channel (optional)").fill("push: 5");
        await adminPage.getByLabel("Priority classes").fill("transactional: security\nalert: alerts");
      },
    ],
  ]) {
    await adminPage.getByRole("link", { name: "New rule" }).click();
    await adminPage.getByLabel("Name", { exact: true }).fill(name);
    await adminPage.getByLabel("Kind").selectOption(kind);
    await fill();
    await adminPage.getByRole("button", { name: "Create rule" }).click();
    await adminPage.getByRole("link", { name }).waitFor();
  }
  await adminPage.getByText("at most 20 sends per day across channels, 5 on push; classes transactional > alert > other").waitFor();
  // Editing keeps the kind and changes the parameters.
  await adminPage.getByRole("link", { name: "Quiet nights" }).click();
  assert.ok(await adminPage.getByLabel("Kind").isDisabled());
  await adminPage.getByLabel("Allowed until").fill("20:30");
  await shot(adminPage, "rule-editor");
  // Tried on the delivery log before it is saved.
  await adminPage.getByRole("button", { name: "Backtest" }).click();
  await adminPage.getByText(/^Of \d+ deliveries sent in the last 7 days, this rule would have held back \d+ and deferred \d+\.$/).waitFor();
  await shot(adminPage, "rule-backtest");
  await adminPage.getByRole("button", { name: "Save rule" }).click();
  await adminPage.getByText("only 08:00–20:30 local time").waitFor();
  await adminPage.getByLabel("CSV rows").fill("list,kind,value,channel,reason\nblock,email,spam@example.com,,complaint\nblock,phone,not-a-phone,,\nallow,email_domain,example.org,email,partner\n");
  await adminPage.getByRole("button", { name: "Import" }).click();
  await adminPage.getByText("Imported 2 of 3 rows.").waitFor();
  await adminPage.getByText(/Line 3/).waitFor();
  await adminPage.getByRole("cell", { name: "spam@example.com", exact: true }).waitFor();
  await shot(adminPage, "rules");
  await nav(adminPage, "Subscribers").click();
  await adminPage.getByRole("cell", { name: "u5@example.com" }).waitFor();
  await shot(adminPage, "subscribers");
  // A channel instance switched off and on again keeps its secret.
  await nav(adminPage, "Channels").click();
  const partner = adminPage.locator("section", { has: adminPage.getByRole("heading", { name: /^partner-webhook/ }) });
  await partner.getByRole("button", { name: "Disable" }).click();
  await partner.locator(".badge", { hasText: "disabled" }).waitFor();
  await partner.getByRole("button", { name: "Enable" }).click();
  await partner.getByRole("button", { name: "Disable" }).waitFor();
  await partner.getByText("secret", { exact: true }).waitFor();
  // An SMTP relay from labelled fields: the password is write-only, kept when other
  // settings change, and never shown.
  const newChannel = adminPage.getByRole("form", { name: "New channel instance" });
  await newChannel.getByLabel("Kind").selectOption("smtp");
  await newChannel.getByLabel("Name", { exact: true }).fill("relay");
  await newChannel.getByLabel("Host").fill("127.0.0.1");
  await newChannel.getByLabel("Security").selectOption("plain");
  assert.equal(await newChannel.getByLabel("Port").getAttribute("placeholder"), "25", "the usual port of the security chosen");
  await newChannel.getByLabel("Port").fill("2525");
  await newChannel.getByLabel("Username").fill("herald");
  await newChannel.getByRole("button", { name: "Add channel" }).click();
  await newChannel.getByText("A username needs a password.").waitFor();
  assert.equal(await newChannel.getByLabel("Password").getAttribute("type"), "password");
  await newChannel.getByLabel("Password").fill("relay-password-1");
  await shot(adminPage, "channel-smtp-new");
  await newChannel.getByRole("button", { name: "Add channel" }).click();
  const relay = adminPage.locator("section", { has: adminPage.getByRole("heading", { name: /^relay/ }) });
  await relay.getByText("2525", { exact: true }).waitFor();
  await relay.getByText("password", { exact: true }).waitFor();
  await relay.getByRole("button", { name: "Edit the settings of relay" }).click();
  const relayForm = relay.getByRole("form", { name: "Settings of relay" });
  assert.equal(await relayForm.getByLabel("Password", { exact: true }).inputValue(), "", "a stored password is never shown");
  assert.equal(await relayForm.getByLabel("Host").inputValue(), "127.0.0.1");
  await relayForm.getByText("The password is stored (never shown).", { exact: false }).waitFor();
  await relayForm.getByLabel("Port").fill("2526");
  await relayForm.getByText("Advanced settings").click();
  await relayForm.getByLabel("Connections at most").fill("4");
  await shot(adminPage, "channel-smtp-edit");
  await relayForm.getByRole("button", { name: "Save settings" }).click();
  await relay.getByText("2526", { exact: true }).waitFor();
  const relayStored = await admin("GET", "/v1/channels/relay");
  assert.deepEqual(relayStored.secrets_set, ["password"], "the password stayed");
  assert.equal(relayStored.settings.pool.max_size, 4);
  assert.ok(!JSON.stringify(relayStored).includes("relay-password-1"), "the password is never returned");
  assert.ok(!(await adminPage.content()).includes("relay-password-1"), "nor shown");
  await admin("DELETE", "/v1/channels/relay");
  await adminPage.reload();
  await adminPage.getByRole("heading", { name: /partner-webhook/ }).waitFor();
  // An MQTT broker from labelled fields, added and removed again.
  await newChannel.getByLabel("Kind").selectOption("mqtt");
  await newChannel.getByLabel("Name", { exact: true }).fill("broker");
  await newChannel.getByLabel("Host").fill("127.0.0.1");
  assert.equal(await newChannel.getByLabel("Port").getAttribute("placeholder"), "1883");
  await newChannel.getByLabel("Retain published messages").check();
  await newChannel.getByLabel("Username").fill("herald");
  await newChannel.getByLabel("Password").fill("broker-password-1");
  await shot(adminPage, "channel-mqtt-new");
  await newChannel.getByRole("button", { name: "Add channel" }).click();
  await adminPage.getByRole("heading", { name: /^broker/ }).waitFor();
  const brokerStored = await admin("GET", "/v1/channels/broker");
  assert.equal(brokerStored.settings.retain, true);
  assert.deepEqual(brokerStored.secrets_set, ["password"]);
  await admin("DELETE", "/v1/channels/broker");
  // An APNs provider from labelled fields (no JSON to write): its .p8 key is write-only,
  // kept when the instance is edited, and never shown.
  const p8 = generateKeyPairSync("ec", { namedCurve: "P-256" }).privateKey.export({ type: "pkcs8", format: "pem" });
  await newChannel.getByLabel("Kind").selectOption("apns");
  await newChannel.getByLabel("Name", { exact: true }).fill("ios");
  await newChannel.getByLabel("Team id").fill("TEAM123456");
  await newChannel.getByLabel("Key id").fill("KEY1234567");
  await newChannel.getByLabel("Bundle id (topic)").fill("com.example.app");
  await newChannel.getByRole("button", { name: "Add channel" }).click();
  await newChannel.getByText("Signing key (.p8) is required.").waitFor();
  await newChannel.getByLabel("Signing key (.p8)").fill(p8);
  await newChannel.getByLabel("Environment").selectOption({ label: "Sandbox (development builds)" });
  await shot(adminPage, "channel-apns-new");
  await newChannel.getByRole("button", { name: "Add channel" }).click();
  const ios = adminPage.locator("section", { has: adminPage.getByRole("heading", { name: /^ios/ }) });
  await ios.getByText("signing_key_pem", { exact: true }).waitFor();
  await ios.getByRole("button", { name: "Edit the settings of ios" }).click();
  const iosForm = adminPage.getByRole("form", { name: "Settings of ios" });
  assert.equal(await iosForm.getByLabel("Signing key (.p8)").inputValue(), "", "a stored key is never shown");
  await iosForm.getByText("The signing key (.p8) is stored (never shown).", { exact: false }).waitFor();
  await iosForm.getByLabel("Topic", { exact: false }).fill("com.example.other");
  await iosForm.getByRole("button", { name: "Save settings" }).click();
  await ios.getByText("com.example.other", { exact: true }).waitFor();
  const iosStored = await admin("GET", "/v1/channels/ios");
  assert.equal(iosStored.settings.base_url, "https://api.sandbox.push.apple.com");
  assert.deepEqual(iosStored.secrets_set, ["signing_key_pem"], "the key kept through the edit");
  assert.ok(!(await adminPage.content()).includes(p8.split("\n")[1]), "the key is never shown");
  await admin("DELETE", "/v1/channels/ios");

  // ---- the kill switch: a reviewer stops all sending, every page says so, an admin
  // stops one channel too and releases both ----
  await reviewer.goto(`${base}/kill-switch`);
  await reviewer.getByRole("heading", { name: "Kill switch" }).waitFor();
  await reviewer.getByText("Nothing is stopped.").waitFor();
  reviewer.once("dialog", (dialog) => void dialog.accept());
  await expectFailures([422], async () => {
    await reviewer.getByRole("button", { name: "Stop sending" }).click();
    await reviewer.getByText("say why, in 1 to 500 characters").waitFor();
  });
  await reviewer.getByLabel("Reason").fill("complaint spike");
  reviewer.once("dialog", (dialog) => void dialog.accept());
  await reviewer.getByRole("button", { name: "Stop sending" }).click();
  await reviewer.getByText("All sending stopped.").waitFor();
  await reviewer.locator(".halt-banner", { hasText: "All sending (complaint spike)" }).waitFor();
  await reviewer.getByRole("table", { name: "Stops in force" }).getByText("rita", { exact: false }).waitFor();
  await shot(reviewer, "kill-switch-stopped");
  await adminPage.goto(`${base}/deliveries`);
  await adminPage.locator(".halt-banner", { hasText: "All sending (complaint spike)" }).waitFor();
  await adminPage.getByRole("link", { name: "Open the kill switch" }).click();
  await adminPage.getByRole("heading", { name: "Kill switch" }).waitFor();
  await adminPage.getByLabel("One channel instance").check();
  await adminPage.getByLabel("Channel instance", { exact: true }).fill("partner-webhook");
  await adminPage.getByLabel("Reason").fill("partner outage");
  adminPage.once("dialog", (dialog) => void dialog.accept());
  await adminPage.getByRole("button", { name: "Stop sending" }).click();
  await adminPage.getByText("Channel partner-webhook stopped.").waitFor();
  const stops = adminPage.getByRole("table", { name: "Stops in force" });
  await stops.getByText("Channel partner-webhook").waitFor();
  await shot(adminPage, "kill-switch-two-stops");
  assert.equal((await admin("GET", "/v1/halts")).length, 2);
  for (const what of ["All sending", "Channel partner-webhook"]) {
    adminPage.once("dialog", (dialog) => void dialog.accept());
    await stops.getByRole("row", { name: new RegExp(what) }).getByRole("button", { name: "Release" }).click();
    await adminPage.getByText(`${what} released`, { exact: false }).waitFor();
  }
  await adminPage.getByText("Nothing is stopped.").waitFor();
  // The banner goes with the last stop.
  await adminPage.locator(".halt-banner").waitFor({ state: "detached" });
  await shot(adminPage, "kill-switch-released");
  const haltAudit = await admin("GET", "/v1/audit-log?target_kind=halt");
  assert.deepEqual(
    haltAudit.items.map((entry) => entry.action).sort(),
    ["sending.halt", "sending.halt", "sending.release", "sending.release"],
  );

  // ---- the campaign and template lists search and sort on the server ----
  await nav(adminPage, "Campaigns").click();
  await adminPage.getByRole("heading", { name: "Campaigns" }).waitFor();
  await adminPage.getByLabel("Search").fill("SPRING");
  const campaignNames = () => [...document.querySelectorAll("table.campaigns tbody tr td:first-child a")].map((a) => a.textContent ?? "");
  // The table shows the search's answer once every row matches (the old rows go first).
  await adminPage.waitForFunction(`(${campaignNames})().length > 0 && (${campaignNames})().every((name) => /spring/i.test(name))`);
  await adminPage.getByRole("link", { name: "Spring promo" }).waitFor();
  await adminPage.getByLabel("Search").fill("no such campaign");
  await adminPage.getByText("No campaign matches “no such campaign”.").waitFor();
  await adminPage.getByLabel("Search").fill("");
  await adminPage.getByLabel("Sort by").selectOption("name");
  await adminPage.waitForFunction(
    `(() => { const names = (${campaignNames})(); return names.length > 1 && names.join("|") === [...names].sort().join("|"); })()`,
  );
  await shot(adminPage, "campaigns-sorted");
  await nav(adminPage, "Templates").click();
  await adminPage.getByLabel("Sort by").selectOption("updated");
  await adminPage.getByLabel("Search").fill("zzz-none");
  await adminPage.getByText("No template matches “zzz-none”.").waitFor();

  // ---- so do the short lists: audiences, rules, channels, API keys, operators ----
  for (const [link, what] of [
    ["Audiences", "audience"],
    ["Rules", "rule"],
    ["Channels", "channel instance"],
    ["API keys", "API key"],
    ["Operators", "operator"],
  ]) {
    await nav(adminPage, link).click();
    await adminPage.getByRole("heading", { name: link, exact: true }).waitFor();
    await adminPage.getByLabel("Search").fill("zzz-none");
    await adminPage.getByText(`No ${what} matches “zzz-none”.`).waitFor();
  }
  await adminPage.getByLabel("Search").fill("ADM");
  await adminPage.getByLabel("Sort by").selectOption("newest");
  const operatorNames = () => [...document.querySelectorAll("tbody tr td:first-child")].map((td) => td.textContent ?? "");
  await adminPage.waitForFunction(`(${operatorNames})().length > 0 && (${operatorNames})().every((name) => /adm/i.test(name))`);
  await shot(adminPage, "operators-searched");

  // ---- delivery events to products: an admin registers an endpoint, copies its
  // secret, a send's events arrive signed, the batch shows in its log, then the
  // endpoint is turned off and removed ----
  await adminPage.goto(`${base}/event-endpoints`);
  await adminPage.getByRole("heading", { name: "Event endpoints" }).waitFor();
  await adminPage.getByText("No event endpoints yet.").waitFor();
  await expectFailures([422], async () => {
    await adminPage.getByLabel("URL", { exact: true }).fill("ftp://example.com/x");
    await adminPage.getByRole("button", { name: "Register endpoint" }).click();
    await adminPage.getByText("must be an http or https URL").waitFor();
  });
  await adminPage.getByLabel("URL", { exact: true }).fill(`${receiver.url}/events`);
  await adminPage.getByLabel("Description").fill("orders service");
  await adminPage.getByLabel("Read in the inbox").check();
  await adminPage.getByRole("button", { name: "Register endpoint" }).click();
  const eventSecret = (await adminPage.locator(".secret code").textContent()) ?? "";
  assert.match(eventSecret, /^whsec_/);
  await adminPage.getByRole("table", { name: "Event endpoints" }).getByText("orders service").waitFor();
  await shot(adminPage, "event-endpoint-registered");
  await admin("PUT", "/v1/subscribers/orders-demo", {});
  await admin("POST", "/v1/messages", {
    recipients: ["orders-demo"],
    channels: ["inbox"],
    // Quiet hours (from the rules above) let this category through at any hour.
    category: "security",
    content: { inbox: { title: "New sign-in" } },
  });
  await until("a signed batch of events", () => receiver.requests.some((r) => r.path === "/events"));
  const eventBatch = receiver.requests.find((r) => r.path === "/events");
  const signedContent = `${eventBatch.headers["webhook-id"]}.${eventBatch.headers["webhook-timestamp"]}.${eventBatch.body}`;
  const expectedSignature = `v1,${createHmac("sha256", Buffer.from(eventSecret.slice("whsec_".length), "base64")).update(signedContent).digest("base64")}`;
  assert.ok(eventBatch.headers["webhook-signature"].split(" ").includes(expectedSignature), "signed per Standard Webhooks");
  assert.equal(JSON.parse(eventBatch.body).data.events[0].type, "delivery.delivered");
  await adminPage.getByRole("button", { name: "Batches", exact: true }).click();
  await adminPage.getByRole("table", { name: "Batches" }).getByText("delivered", { exact: true }).waitFor();
  await shot(adminPage, "event-endpoint-batches");
  // A broadcast's recipients are logged by its shared inbox item, not by a row each:
  // the delivery log lists them, and a trace opens from the item.
  await admin("PUT", "/v1/subscribers/orders-demo-2", {});
  await admin("POST", "/v1/messages", {
    recipients: ["orders-demo", "orders-demo-2"],
    channels: ["inbox"],
    category: "security",
    content: { inbox: { title: "Maintenance tonight" } },
  });
  await adminPage.goto(`${base}/deliveries?subscriber=orders-demo-2`);
  await adminPage.getByRole("button", { name: "Trace" }).first().click();
  await adminPage.locator(".trace").getByText(/Shared inbox item #\d+ of message #\d+ to orders-demo-2/).waitFor();
  await adminPage.locator(".trace").getByText("stored in the subscriber's inbox").waitFor();
  await shot(adminPage, "deliveries-shared-entry");
  await adminPage.goto(`${base}/event-endpoints`);
  await adminPage.getByRole("table", { name: "Event endpoints" }).getByText("orders service").waitFor();
  await adminPage.getByRole("button", { name: "Turn off" }).click();
  await adminPage.getByText("turned off", { exact: false }).waitFor();
  await adminPage.getByRole("table", { name: "Event endpoints" }).getByRole("button", { name: "Turn on" }).waitFor();
  adminPage.once("dialog", (dialog) => void dialog.accept());
  await adminPage.getByRole("table", { name: "Event endpoints" }).getByRole("button", { name: "Remove" }).click();
  await adminPage.getByText("No event endpoints yet.").waitFor();
  const eventAudit = await admin("GET", "/v1/audit-log?target_kind=event_endpoint");
  assert.deepEqual(
    eventAudit.items.map((entry) => entry.action).sort(),
    ["event_endpoint.create", "event_endpoint.delete", "event_endpoint.update"],
  );

  // ---- a narrow window ----
  const { page: phone } = await newPage(390, 844);
  await logIn(phone, "edith");
  await phone.getByRole("heading", { name: "Dashboard" }).waitFor();
  assert.ok(!(await nav(phone, "Campaigns").isVisible()), "the menu is folded on a phone");
  await shot(phone, "narrow-dashboard");
  await phone.getByRole("button", { name: "Menu" }).click();
  await nav(phone, "Campaigns").waitFor();
  await shot(phone, "narrow-menu");
  await nav(phone, "Campaigns").click();
  await phone.getByRole("link", { name: "Spring promo" }).click();
  await phone.getByRole("heading", { name: /Spring promo/ }).waitFor();
  await phone.locator(".progress-caption").first().waitFor();
  await shot(phone, "narrow-campaign");
  // No page is wider than the phone (wide tables scroll inside their card).
  for (const path of ["", "/campaigns/new", "/templates/1", "/audiences/new", "/deliveries", "/review", "/audiences/1", "/reports", "/subscribers/u2", "/rules", "/subscribers", "/kill-switch", "/event-endpoints"]) {
    if (path) {
      await phone.goto(`${base}${path}`);
      await phone.getByRole("button", { name: "Log out" }).waitFor();
      await phone.locator("main h1").first().waitFor();
    }
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);

    assert.ok(overflow <= 0, `${path || "the campaign page"} fits a 390px window (overflows by ${overflow}px)`);
  }
  await phone.goto(`${base}/reports`);
  await phone.getByRole("img", { name: /Funnel of Spring promo/ }).waitFor();
  await shot(phone, "narrow-reports");
  await phone.goto(`${base}/deliveries?subscriber=u2`);
  await phone.getByRole("button", { name: "Trace" }).first().click();
  await phone.locator(".trace-why").waitFor();
  await shot(phone, "narrow-deliveries");
  await phone.goto(`${base}/subscribers/u2`);
  await phone.getByRole("heading", { name: "Delivery history" }).waitFor();
  await phone.locator(".badge", { hasText: "delivered" }).first().waitFor();
  await phone.getByText("All read").waitFor();
  await shot(phone, "narrow-subscriber");
  await phone.goto(`${base}/subscribers?search=u`);
  await phone.getByRole("link", { name: "u5", exact: true }).waitFor();
  await shot(phone, "narrow-subscribers");
  await phone.goto(`${base}/templates/1`);
  await phone.getByText("Fill in data.promo to preview.").waitFor();
  await phone.getByLabel("data.promo").fill("PHONE");
  await phone.getByText("Hello sample@example.com").waitFor();
  await shot(phone, "narrow-template");

  // ---- keyboard only: log in and create a campaign draft with Tab, typing and Enter ----
  const { page: keys } = await newPage();
  await keys.goto(`${base}/`);
  await keys.getByRole("heading", { name: "Log in to Herald" }).waitFor();
  await keys.keyboard.type("edith"); // the username field has focus
  await tabTo(keys, /^Password$/);
  await keys.keyboard.type(PASSWORD);
  await keys.keyboard.press("Enter");
  await keys.getByRole("heading", { name: "Dashboard" }).waitFor();
  await tabTo(keys, /^New campaign$/);
  await keys.keyboard.press("Enter");
  await keys.getByRole("heading", { name: "New campaign" }).waitFor();
  await tabTo(keys, /^Campaign name$/);
  await keys.keyboard.type("Keyboard promo");
  await tabTo(keys, /^Template$/);
  await keys.keyboard.type("spring");
  // The template's data fields appear once its details load: wait as a person would,
  // or the walk can pass the spot before the field is there.
  await keys.getByLabel("data.promo", { exact: true }).waitFor();
  await tabTo(keys, /^data\.promo$/);
  await keys.keyboard.type("KEYS");
  for (const step of ["Audience", "Channels", "Schedule", "Confirm"]) {
    await tabTo(keys, /^Next$/);
    await keys.keyboard.press("Enter");
    await keys.getByRole("form", { name: new RegExp(`: ${step}$`) }).waitFor();
    if (step === "Audience") {
      await tabTo(keys, /^Audience$/);
      await keys.keyboard.type("VIPs");
      await keys.getByText("3 subscribers right now").waitFor();
    }
  }
  await shot(keys, "keyboard-confirm");
  await tabTo(keys, /^Create draft$/);
  await keys.keyboard.press("Enter");
  await keys.waitForURL(/\/campaigns\/\d+$/);
  await keys.getByRole("heading", { name: /Keyboard promo/ }).waitFor();

  // ---- the editor recalls the campaign: its inbox messages leave every inbox ----
  await editor.goto(campaignUrl);
  await editor.getByRole("heading", { name: /Spring promo/ }).waitFor();
  editor.once("dialog", (dialog) => void dialog.accept());
  await editor.getByRole("button", { name: "Recall" }).click();
  await editor.getByText("Recalled: withdrawn from 3 inboxes. Already delivered, beyond reach: webhook 3.").waitFor();
  await editor.locator(".badge", { hasText: /^recalled / }).waitFor();
  assert.equal(await editor.getByRole("button", { name: "Recall" }).count(), 0, "recalled once");
  await shot(editor, "campaign-recalled");
  const u2Inbox = await admin("GET", "/v1/subscribers/u2/inbox");
  assert.ok(!u2Inbox.items.some((item) => item.title.startsWith("Hello")), "the recalled message left u2's inbox");

  // ---- subscribers managed in the console: created, edited, an endpoint added and
  // removed, deleted; each outcome in a toast ----
  await editor.goto(`${base}/subscribers`);
  await editor.getByRole("link", { name: "New subscriber" }).click();
  await editor.getByLabel("External id").fill("walk-in");
  await editor.getByLabel("Email").fill("not-an-email");
  await expectFailures([422], async () => {
    await editor.getByRole("button", { name: "Create subscriber" }).click();
    await editor.getByText("is not a valid email address").waitFor();
  });
  await editor.getByLabel("Email").fill("walk-in@example.com");
  await editor.getByLabel("Tags").fill("vip, walk-in");
  await editor.getByRole("button", { name: "Create subscriber" }).click();
  await editor.waitForURL(/\/subscribers\/walk-in$/);
  await editor.locator(".toast", { hasText: "Subscriber walk-in created." }).waitFor();
  await editor.getByRole("button", { name: "Edit profile" }).click();
  await editor.getByLabel("Time zone").fill("Europe/Paris");
  await editor.getByRole("button", { name: "Save profile" }).click();
  await editor.locator("dd", { hasText: "Europe/Paris" }).waitFor();
  const newEndpoint = editor.getByRole("form", { name: "New endpoint" });
  await newEndpoint.getByLabel("Endpoint channel").selectOption("push");
  await newEndpoint.getByLabel("Provider").selectOption("apns");
  await newEndpoint.getByLabel("Address").fill("device-token-1");
  await newEndpoint.getByRole("button", { name: "Add endpoint" }).click();
  await editor.locator("code", { hasText: "device-token-1" }).waitFor();
  await shot(editor, "subscriber-managed");
  const walkIn = await admin("GET", "/v1/subscribers/walk-in");
  assert.deepEqual([walkIn.email, walkIn.timezone, walkIn.tags], ["walk-in@example.com", "Europe/Paris", ["vip", "walk-in"]]);
  editor.once("dialog", (dialog) => void dialog.accept());
  await editor.getByRole("button", { name: "Remove the push endpoint device-token-1" }).click();
  await editor.locator(".toast", { hasText: "The push endpoint was removed." }).waitFor();
  await editor.locator("code", { hasText: "device-token-1" }).waitFor({ state: "detached" });
  editor.once("dialog", (dialog) => void dialog.accept());
  await editor.getByRole("button", { name: "Delete subscriber" }).click();
  await editor.waitForURL(/\/subscribers$/);
  await editor.locator(".toast", { hasText: "Subscriber walk-in deleted." }).waitFor();
  assert.equal((await admin("GET", "/v1/subscribers?search=walk")).items.length, 0, "deleted");
  // A CSV import: the upload's progress, then what was stored and each refused row.
  const importForm = editor.getByRole("form", { name: "Import subscribers" });
  await importForm.getByLabel("File (.csv or .jsonl)").setInputFiles({
    name: "people.csv",
    mimeType: "text/csv",
    buffer: Buffer.from("external_id,email,tags\nimp-1,imp1@example.com,a;b\nimp-2,not-an-email,\nimp-3,,c\n"),
  });
  await importForm.getByRole("button", { name: "Import" }).click();
  await importForm.getByText("Imported 2 of 3 rows; 1 refused.").waitFor();
  const refused = importForm.getByRole("table", { name: "Refused rows" });
  await refused.getByRole("cell", { name: "imp-2" }).waitFor();
  await refused.getByRole("cell", { name: "email", exact: true }).waitFor();
  await editor.locator(".toast", { hasText: "Imported 2 of 3 rows." }).waitFor();
  await editor.getByRole("link", { name: "imp-1", exact: true }).waitFor();
  await shot(editor, "subscriber-import");
  assert.deepEqual((await admin("GET", "/v1/subscribers/imp-1")).tags, ["a", "b"]);
  // A larger file over a slow uplink (Chromium's own throttling): the bar shows part of
  // the file sent, then goes once the rows are stored.
  const rows = Array.from({ length: 4000 }, (_, i) => `bulk-${i},bulk${i}@example.com,imported`);
  const cdp = await editor.context().newCDPSession(editor);
  await cdp.send("Network.enable");
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: 40 * 1024 });
  await importForm.getByLabel("File (.csv or .jsonl)").setInputFiles({
    name: "bulk.csv",
    mimeType: "text/csv",
    buffer: Buffer.from(`external_id,email,tags\n${rows.join("\n")}\n`),
  });
  await importForm.getByRole("button", { name: "Import" }).click();
  const bar = importForm.getByRole("progressbar", { name: "Upload" });
  await bar.waitFor();
  await editor.waitForFunction(() => {
    const shown = document.querySelector('[role="progressbar"][aria-label="Upload"]');
    const now = Number(shown?.getAttribute("aria-valuenow"));
    return now > 0 && now < Number(shown?.getAttribute("aria-valuemax"));
  });
  await importForm.getByText(/^Sent [\d,]+ of [\d,]+ bytes…$/).waitFor();
  await shot(editor, "subscriber-import-progress");
  await importForm.getByText("Imported 4,000 of 4,000 rows.").waitFor();
  await bar.waitFor({ state: "detached" });
  await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: -1, uploadThroughput: -1 });
  await cdp.detach();

  assert.deepEqual(errors, [], "no console errors");
  console.log(`admin console: editor, reviewer, viewer and admin flows passed; screenshots in ${output}`);
} catch (failure) {
  // What each page showed when the test failed.
  for (const [i, page] of pages.entries()) {
    await page.screenshot({ path: join(output, `console-failure-${i}.png`), fullPage: true }).catch(() => {});
  }
  console.error("console errors so far:", errors);
  throw failure;
} finally {
  await browser.close();
  receiver.server.close();
  child.kill("SIGTERM");
  rmSync(dataDir, { recursive: true, force: true });
}
