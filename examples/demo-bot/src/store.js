'use strict';
// Conversations in PostgreSQL, as the real bot keeps them. Only used when
// DATABASE_URL is set; the tables are created if missing.

const { Pool } = require('pg');

const SCHEMA = `
CREATE TABLE IF NOT EXISTS bot_users (
  user_id     text PRIMARY KEY,
  first_seen  timestamptz NOT NULL DEFAULT now(),
  last_seen   timestamptz NOT NULL DEFAULT now(),
  messages    integer NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS conversations (
  id          bigserial PRIMARY KEY,
  user_id     text NOT NULL,
  direction   text NOT NULL CHECK (direction IN ('inbound', 'outbound')),
  intent      text,
  body        text,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS conversations_created_at ON conversations (created_at);
CREATE TABLE IF NOT EXISTS appointments (
  id          bigserial PRIMARY KEY,
  user_id     text NOT NULL,
  slot        timestamptz NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS human_interventions (
  id           bigserial PRIMARY KEY,
  user_id      text NOT NULL,
  requested_at timestamptz NOT NULL DEFAULT now(),
  resolved_at  timestamptz
);`;

class Store {
  // `onError(err)` is told about every failed write; writes never throw.
  constructor(databaseUrl, onError) {
    this.pool = new Pool({ connectionString: databaseUrl, max: 4, connectionTimeoutMillis: 5000,
                           application_name: 'demo-bot' });
    this.pool.on('error', onError);  // an idle client lost its connection
    this.onError = onError;
    this.pending = new Set();
  }

  async init() { await this.pool.query(SCHEMA); }

  // What the preset's `db pool` line reads.
  poolStats() {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount,
             max: this.pool.options.max };
  }

  write(sql, params) {
    const p = this.pool.query(sql, params).then(() => {}, this.onError);
    this.pending.add(p);
    p.finally(() => this.pending.delete(p));
  }

  message(userId, direction, intent, body) {
    if (direction === 'inbound') {
      this.write(`INSERT INTO bot_users (user_id, messages) VALUES ($1, 1)
                  ON CONFLICT (user_id) DO UPDATE SET last_seen = now(), messages = bot_users.messages + 1`, [userId]);
    }
    this.write('INSERT INTO conversations (user_id, direction, intent, body) VALUES ($1, $2, $3, $4)',
               [userId, direction, intent, body]);
  }

  appointment(userId, slot) {
    this.write('INSERT INTO appointments (user_id, slot) VALUES ($1, $2)', [userId, slot]);
  }

  handoffRequested(userId) {
    this.write('INSERT INTO human_interventions (user_id) VALUES ($1)', [userId]);
  }

  handoffResolved(userId) {
    this.write(`UPDATE human_interventions SET resolved_at = now()
                WHERE id = (SELECT id FROM human_interventions WHERE user_id = $1 AND resolved_at IS NULL
                            ORDER BY requested_at LIMIT 1)`, [userId]);
  }

  // Waits for the writes in flight, then closes the pool.
  async close() {
    await Promise.allSettled([...this.pending]);
    await this.pool.end();
  }
}

module.exports = { Store, SCHEMA };
