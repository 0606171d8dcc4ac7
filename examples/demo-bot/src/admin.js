'use strict';
// The bot's admin backend: an HTTP server with /healthz, /metrics (prom-client,
// src/metrics.js) and a Socket.io server
// on /socket.io/ whose clients must authenticate with handshake auth
// {service, secret}, the secret being INTERNAL_SECRET. Admin UIs get live
// events and may resolve human hand-offs.

const crypto = require('crypto');
const http = require('http');
const { Server } = require('socket.io');

function sameSecret(given, expected) {
  if (typeof given !== 'string') return false;
  // Compare digests so the comparison takes the same time whatever the length.
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

function authMiddleware(secret, logger) {
  return (socket, next) => {
    const auth = socket.handshake.auth || {};
    const service = typeof auth.service === 'string' ? auth.service.slice(0, 64) : '';
    if (service && sameSecret(auth.secret, secret)) {
      socket.data.service = service;
      return next();
    }
    // Never log what was sent as the secret.
    logger.warn('socket auth rejected', { service: service || null, errorType: 'socket_auth' });
    const err = new Error('unauthorized');
    err.data = { reason: service ? 'bad secret' : 'missing service' };
    return next(err);
  };
}

class AdminServer {
  constructor({ secret, logger, stats, onResolve, metrics }) {
    this.logger = logger;
    this.http = http.createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/metrics' && metrics) {
        metrics.metrics().then((text) => {
          res.writeHead(200, { 'content-type': metrics.contentType });
          res.end(text);
        }, (err) => { res.writeHead(500); res.end(String(err)); });
      } else if (req.method === 'GET' && (req.url === '/healthz' || req.url === '/health')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'ok', uptime: process.uptime() }) + '\n');
      } else if (req.method === 'GET' && req.url === '/stats') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify(stats()) + '\n');
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' });
        res.end('not found\n');
      }
    });
    this.io = new Server(this.http, { path: '/socket.io/', serveClient: false, cors: { origin: false } });
    this.io.use(authMiddleware(secret, logger));
    this.io.on('connection', (socket) => {
      logger.info('admin connected', { service: socket.data.service });
      socket.join('admins');
      socket.on('handoff:resolve', (msg, ack) => {
        const ok = !!(msg && typeof msg.userId === 'string' && onResolve(msg.userId));
        if (typeof ack === 'function') ack({ ok });
      });
      socket.on('bot:ping', (ack) => { if (typeof ack === 'function') ack({ ok: true, uptime: process.uptime() }); });
      socket.on('disconnect', (why) => logger.info('admin disconnected', { service: socket.data.service, reason: why }));
    });
  }

  listen(port, host) {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => resolve(this.http.address().port));
    });
  }

  emit(event, payload) { this.io.to('admins').emit(event, payload); }

  close() {
    return new Promise((resolve) => {
      this.io.close(() => resolve());  // also closes the HTTP server
      this.io.disconnectSockets(true);
    });
  }
}

module.exports = { AdminServer, authMiddleware };
