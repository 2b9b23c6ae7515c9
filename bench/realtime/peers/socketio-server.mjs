// A socket.io push server, as a typical team would write it: clients connect with
// `?user=ID` (WebSocket transport only) and join the room `user:ID`; POST /send
// {user, payload} emits to that room, POST /broadcast {payload} emits to everyone
// with io.emit. Events are `message` with {id, item: payload}, Herald's WebSocket
// frame without the `event` key (socket.io names the event itself). socket.io's own
// heartbeat (ping every 25 s) keeps connections checked.
import http from "node:http";
import { Server } from "socket.io";

const port = Number(process.env.PORT || 18202);
const host = process.env.HOST || "127.0.0.1";

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
  const message = { id: body.payload?.id, item: body.payload };
  if (req.url === "/send") {
    io.to(`user:${body.user}`).emit("message", message);
  } else if (req.url === "/broadcast") {
    io.emit("message", message);
  } else {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end("{}");
});

const io = new Server(server, { transports: ["websocket"], serveClient: false });

io.on("connection", (socket) => {
  const user = socket.handshake.query.user;
  if (!user) {
    socket.disconnect(true);
    return;
  }
  socket.join(`user:${user}`);
});

server.listen(port, host, () => console.log(`socket.io peer listening on ${host}:${port}`));
process.on("SIGTERM", () => process.exit(0));
