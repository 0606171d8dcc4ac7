// Socket.IO 4 server for botwatch's tests: `node server.js PORT` (0 = any free
// port) listens on 127.0.0.1 and prints "listening PORT" once ready.
// The auth middleware accepts a client whose handshake auth is
// {service: "bot", secret: <SOCKETIO_SECRET or "s3cret-peer">} and rejects
// anything else with a connect error. SOCKETIO_TRANSPORTS (comma-separated,
// e.g. "polling") restricts the transports; default: polling and websocket.
// SOCKETIO_TLS_CERT and SOCKETIO_TLS_KEY (PEM files) serve HTTPS/WSS instead.
// SOCKETIO_EMIT_MS (> 0) emits, every that many milliseconds, on both
// namespaces: "metrics:update" to the room "admins" only (a client joins it by
// emitting "join" with the room name), "message:processed" to everyone, and
// "typing" (an event name the tests leave out of the allow-list) to everyone.
"use strict";
const fs = require("fs");
const http = require("http");
const https = require("https");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 0);
const secret = process.env.SOCKETIO_SECRET || "s3cret-peer";

const httpServer = process.env.SOCKETIO_TLS_CERT
  ? https.createServer({
      cert: fs.readFileSync(process.env.SOCKETIO_TLS_CERT),
      key: fs.readFileSync(process.env.SOCKETIO_TLS_KEY),
    })
  : http.createServer();
const options = { serveClient: false };
if (process.env.SOCKETIO_TRANSPORTS) options.transports = process.env.SOCKETIO_TRANSPORTS.split(",");
const io = new Server(httpServer, options);

function authorize(socket, next) {
  const auth = socket.handshake.auth || {};
  if (auth.service === "bot" && auth.secret === secret) return next();
  next(new Error("unauthorized"));
}
io.use(authorize);
io.of("/admin").use(authorize);

function greet(socket) {
  // Unsolicited traffic right after connecting, as real admin backends send:
  // the client must skip it while looking for its CONNECT answer.
  socket.emit("hello", { at: Date.now() });
  socket.on("ping-check", (ack) => typeof ack === "function" && ack("pong"));
  socket.on("join", (room) => typeof room === "string" && socket.join(room));
}
io.on("connection", greet);
io.of("/admin").on("connection", greet);

const emitMs = Number(process.env.SOCKETIO_EMIT_MS || 0);
if (emitMs > 0) {
  let seq = 0;
  setInterval(() => {
    seq += 1;
    for (const nsp of [io.of("/"), io.of("/admin")]) {
      nsp.to("admins").emit("metrics:update", { seq });
      nsp.emit("message:processed", { seq });
      nsp.emit("typing", { seq });
    }
  }, emitMs);
}

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`listening ${httpServer.address().port}`);
});
process.on("SIGTERM", () => io.close(() => process.exit(0)));
