// What every browser test needs: a real `herald serve` on a free port with a fresh
// SQLite data directory, and Debian's Chromium with the flags this machine needs.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

export function freePort() {
  return new Promise((done) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

// Starts `herald serve` ($HERALD_BIN) with the admin password and extra HERALD_* settings,
// on a fresh data directory or on `dataDir` (a restart); resolves once it answers /healthz.
export async function startHerald({ adminPassword, env = {}, dataDir = mkdtempSync(join(tmpdir(), "herald-browser-")) }) {
  const port = await freePort();
  const child = spawn(process.env.HERALD_BIN ?? "target/debug/herald", ["serve"], {
    env: {
      PATH: process.env.PATH,
      HERALD_DATA_DIR: dataDir,
      HERALD_LISTEN: `127.0.0.1:${port}`,
      HERALD_ADMIN_PASSWORD: adminPassword,
      HERALD_LOG__FILTER: "warn",
      // The test receivers listen on loopback.
      HERALD_CHANNELS__ALLOWED_PRIVATE_DESTINATIONS: `["127.0.0.0/8"]`,
      ...env,
    },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 300; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) return { base, child, dataDir };
    } catch {}
    await new Promise((wait) => setTimeout(wait, 100));
  }
  throw new Error("herald serve did not start");
}

export function launchChromium() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--disable-component-update", "--disable-sync"],
  });
}

// An operator's API session: logs in, then every call sends the cookies and the CSRF
// token, asserts success and gives the JSON body (null for 204).
export async function apiSession(base, username, password) {
  const response = await fetch(`${base}/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username, password }),
  });
  assert.equal(response.status, 200, `login ${username}`);
  // Every cookie the login set (the session and the CSRF cookie, in any order).
  const cookie = response.headers.getSetCookie().map((c) => c.split(";")[0]).join("; ");
  const { csrf_token } = await response.json();
  return async (method, path, body, headers = {}) => {
    const answer = await fetch(`${base}${path}`, {
      method,
      headers: { "content-type": "application/json", cookie, "x-csrf-token": csrf_token, ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    assert.ok(answer.ok, `${method} ${path}: ${answer.status} ${await answer.clone().text()}`);
    return answer.status === 204 ? null : answer.json();
  };
}

// A subscriber token as a product backend signs it with `secret` (HS256 JWT, `sub`,
// `aud`, `iat`, `exp`), valid for ten minutes.
export function subscriberToken(secret, externalId) {
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${encode({ alg: "HS256", typ: "JWT" })}.${encode({
    sub: externalId, aud: "herald", iat: now, exp: now + 600,
  })}`;
  return `${unsigned}.${createHmac("sha256", secret).update(unsigned).digest("base64url")}`;
}
