'use strict';
// The bot's own prom-client registry, served on GET /metrics beside /healthz as
// many Node bots do: Node's default metrics (event-loop lag, heap, GC, handles,
// process_*) and a few counters of the bot's own. botwatch carries them with a
// `type: scrape` collector (config/demo.yaml, packaging/digitalocean/botwatch.yaml).
// Named demo_bot_*, never bot_*: those are the log preset's, and botwatch would
// serve both under one name.

const client = require('prom-client');

function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const turns = new client.Counter({
    name: 'demo_bot_turns_total', help: 'Messages the demo bot handled, by direction.',
    labelNames: ['direction'], registers: [registry],
  });
  const handoffs = new client.Gauge({
    name: 'demo_bot_handoffs_open', help: 'Conversations handed to a human and not yet resolved.',
    registers: [registry],
  });
  return { registry, turns, handoffs };
}

module.exports = { createMetrics };
