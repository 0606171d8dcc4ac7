'use strict';
// The simulated Messenger traffic: who writes, what they want, and what the bot
// does about it. Randomness comes from one seeded generator so a run with
// --seed is reproducible line for line (timestamps and latencies aside).

function mulberry32(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Share of inbound messages by what the user wants.
const INTENTS = [
  ['greeting', 0.30],
  ['product_inquiry', 0.30],
  ['question', 0.25],       // free text: answered by Gemini
  ['appointment', 0.10],
  ['human', 0.05],          // asks for a person: hand-off to the admin UI
];

const CATEGORIES = [['shoes', 0.3], ['bags', 0.25], ['clothing', 0.2], ['accessories', 0.15], ['gift_cards', 0.1]];

const TEXTS = {
  greeting: ['hi', 'hello!', 'good morning', 'hey there'],
  product_inquiry: ['do you have %s in stock?', 'how much are your %s?', 'show me new %s'],
  question: ['what are your opening hours?', 'can I return an item bought online?', 'do you ship abroad?',
             'which size should I take?'],
  appointment: ['can I book a fitting tomorrow?', 'I want an appointment on Saturday', 'book me for 3pm'],
  human: ['I want to talk to a person', 'agent please', 'this is not helping, human!'],
};

// Errors a bot of this kind logs, by where they happen.
const ERRORS = [
  { errorType: 'gemini_timeout', message: 'gemini call failed', weight: 0.35 },
  { errorType: 'graph_api', message: 'failed to send message', weight: 0.35 },
  { errorType: 'database', message: 'database query failed', weight: 0.2 },
  { errorType: 'invalid_signature', message: 'webhook rejected', weight: 0.1 },
];

class Simulator {
  constructor({ seed, users, errorRate }) {
    this.rand = mulberry32(seed);
    this.errorRate = errorRate;
    this.userIds = [];
    for (let i = 0; i < users; i++) {
      // Messenger page-scoped ids are 16-digit numbers.
      this.userIds.push(String(2000000000000000 + Math.floor(this.rand() * 999999999999999)));
    }
  }

  pick(weighted) {
    let r = this.rand() * weighted.reduce((s, [, w]) => s + w, 0);
    for (const [v, w] of weighted) {
      r -= w;
      if (r < 0) return v;
    }
    return weighted[weighted.length - 1][0];
  }

  oneOf(list) { return list[Math.floor(this.rand() * list.length)]; }
  between(lo, hi) { return lo + this.rand() * (hi - lo); }

  // Log-normal around `median` (ms): most calls are quick, a few are slow.
  latency(median, spread, max) {
    const u = Math.max(this.rand(), 1e-9);
    const v = this.rand();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return Math.min(max, Math.round(median * Math.exp(spread * z)));
  }

  // A few users write a lot, most write rarely.
  nextUser() { return this.userIds[Math.floor(this.userIds.length * this.rand() ** 2)]; }

  // Everything that decides one inbound message, drawn up front (turns run
  // concurrently, so drawing later would make the order depend on timing).
  nextTurn() {
    const intent = this.pick(INTENTS);
    const turn = { userId: this.nextUser(), intent, text: '', category: null, template: null, cacheHit: null,
                   gemini: null, error: null, retry: null, processingMs: 0, handoffAfterMs: null };
    if (intent === 'product_inquiry') turn.category = this.pick(CATEGORIES);
    const textTemplate = this.oneOf(TEXTS[intent]);
    turn.text = textTemplate.replace('%s', (turn.category || '').replace('_', ' '));
    turn.processingMs = Math.round(this.between(15, 120));
    switch (intent) {
      case 'greeting': turn.template = 'greeting'; break;
      case 'product_inquiry': turn.template = `product_${turn.category}`; break;
      case 'appointment': turn.template = 'appointment_confirm'; break;
      case 'human': turn.template = 'handoff_notice'; turn.handoffAfterMs = Math.round(this.between(5000, 45000)); break;
      default: break;  // questions have no template: Gemini answers them
    }
    if (turn.template) turn.cacheHit = this.rand() < 0.8;
    if (!turn.cacheHit && turn.template) turn.processingMs += Math.round(this.between(20, 80));  // render + store
    if (intent === 'question' || (intent === 'product_inquiry' && this.rand() < 0.2)) {
      turn.gemini = { latencyMs: this.latency(700, 0.5, 3000), tokens: Math.round(this.between(60, 900)) };
    }
    if (this.rand() < 0.01) turn.retry = { errorType: turn.gemini ? 'gemini_rate_limit' : 'graph_api', attempt: 1 };
    turn.usageDrift = [this.rand(), this.rand(), this.rand()];
    turn.noise = this.rand() < 0.1 ? this.nextNoise() : null;
    turn.slot = { days: 1 + Math.floor(this.rand() * 14), hour: 9 + Math.floor(this.rand() * 8) };
    if (this.rand() < this.errorRate) {
      const e = this.pick(ERRORS.map((x) => [x, x.weight]));
      turn.error = { ...e };
    }
    return turn;
  }

  // Lines that are neither messages nor errors, as any real bot logs them.
  nextNoise() {
    return this.oneOf([
      { level: 'debug', message: 'webhook received', fields: { object: 'page', entries: 1 } },
      { level: 'info', message: 'typing indicator sent', fields: {} },
      { level: 'debug', message: 'session loaded', fields: { cache: 'memory' } },
    ]);
  }
}

module.exports = { Simulator, mulberry32, INTENTS, CATEGORIES };
