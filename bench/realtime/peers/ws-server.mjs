// A plain `ws` push server, as a typical team would write it: clients connect with
// `?user=ID`; POST /send {user, payload} delivers to that user's sockets, POST
// /broadcast {payload} to every socket. Frames have Herald's WebSocket shape:
// {"event":"message","id":…,"item":payload}. Idle sockets are pinged every 20 s (as
// Herald does) and dropped when they stop answering.
import http from "node:http";
import { WebSocketServer, WebSocket } from "ws";

const port = Number(process.env.PORT || 18201);
const host = process.env.HOST || "127.0.0.1";

/** user id -> Set of sockets */
const users = new Map();

function readJson(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString("utf8")));
      } catch (e) {
        reject(e);
      }
    });
    req.on("error", reject);
  });
}

function frameOf(payload) {
  return JSON.stringify({ event: "message", id: payload.id, item: payload });
}

const server = http.createServer(async (req, res) => {
  if (req.method !== "POST") {
    res.writeHead(404).end();
    return;
  }
  let body;
  try {
    body = await readJson(req);
  } catch {
    res.writeHead(400).end();
    return;
  }
  let delivered = 0;
  if (req.url === "/send") {
    const frame = frameOf(body.payload);
    for (const ws of users.get(String(body.user)) ?? []) {
      ws.send(frame);
      delivered++;
    }
  } else if (req.url === "/broadcast") {
    const frame = frameOf(body.payload);
    for (const ws of wss.clients) {
      if (ws.readyState === WebSocket.OPEN) {
        ws.send(frame);
        delivered++;
      }
    }
  } else {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ delivered }));
});

const wss = new WebSocketServer({ server });

wss.on("connection", (ws, req) => {
  const user = new URL(req.url, "http://localhost").searchParams.get("user");
  if (!user) {
    ws.close(1008, "user required");
    return;
  }
  let sockets = users.get(user);
  if (!sockets) users.set(user, (sockets = new Set()));
  sockets.add(ws);
  ws.isAlive = true;
  ws.on("pong", () => (ws.isAlive = true));
  ws.on("close", () => {
    sockets.delete(ws);
    if (sockets.size === 0) users.delete(user);
  });
  ws.on("error", () => {});
});

const heartbeat = setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.isAlive) {
      ws.terminate();
      continue;
    }
    ws.isAlive = false;
    ws.ping();
  }
}, 20_000);
wss.on("close", () => clearInterval(heartbeat));

server.listen(port, host, () => console.log(`ws peer listening on ${host}:${port}`));
process.on("SIGTERM", () => process.exit(0));
