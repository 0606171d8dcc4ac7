// Socket.IO 4 server for botwatch's tests: `node server.js PORT` (0 = any free
// port) listens on 127.0.0.1 and prints "listening PORT" once ready.
// The auth middleware accepts a client whose handshake auth is
// {service: "bot", secret: <SOCKETIO_SECRET or "s3cret-peer">} and rejects
// anything else with a connect error. SOCKETIO_TRANSPORTS (comma-separated,
// e.g. "polling") restricts the transports; default: polling and websocket.
"use strict";
const http = require("http");
const { Server } = require("socket.io");

const port = Number(process.argv[2] || 0);
const secret = process.env.SOCKETIO_SECRET || "s3cret-peer";

const httpServer = http.createServer();
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
}
io.on("connection", greet);
io.of("/admin").on("connection", greet);

httpServer.listen(port, "127.0.0.1", () => {
  console.log(`listening ${httpServer.address().port}`);
});
process.on("SIGTERM", () => io.close(() => process.exit(0)));
