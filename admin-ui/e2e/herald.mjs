// What every browser test needs: a real `herald serve` on a free port with a fresh
// SQLite data directory, and Debian's Chromium with the flags this machine needs.
import { spawn } from "node:child_process";
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
