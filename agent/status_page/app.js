// botwatch status page: polls /api/v1/status, /api/v1/summary and
// /api/v1/history, and follows /api/v1/feed (Server-Sent Events). Plain DOM,
// no libraries, no build step. Same-origin requests carry the browser's basic
// auth, so the page works with --web.config.file too.
'use strict';

const STATUS_EVERY_MS = 2000;
const SUMMARY_EVERY_MS = 5000;
const HISTORY_EVERY_MS = 60000;
const FEED_MAX_LINES = 200;
const TREND_WINDOW_MS = 10 * 60 * 1000;

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === 'class') e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : String(c));
  return e;
}

async function getJson(url) {
  const r = await fetch(url, { cache: 'no-store', credentials: 'same-origin' });
  if (!r.ok) {
    const err = new Error(`${url}: HTTP ${r.status}`);
    err.status = r.status;
    throw err;
  }
  return r.json();
}

function ago(iso, now) {
  if (!iso) return 'never';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 90) return `${s} s ago`;
  if (s < 5400) return `${Math.round(s / 60)} min ago`;
  return `${Math.round(s / 3600)} h ago`;
}

function localTime(iso) { return iso ? new Date(iso).toLocaleTimeString() : '—'; }

// green: up and probed recently; amber: not probed yet or results are stale;
// red: the last probe failed.
function collectorState(c, now) {
  if (!c.checked) return { state: 'amber', why: 'pending: not probed yet' };
  if (!c.up) {
    // last_success is the last probe that passed: down ever since.
    const since = c.last_success ? `down since ${localTime(c.last_success)}` : 'down since start (never up)';
    return { state: 'red', why: `${since}: ${c.reason}${c.last_error ? ': ' + c.last_error : ''}` };
  }
  const staleAfterMs = (2 * c.interval_seconds + c.timeout_seconds + 5) * 1000;
  if (c.last_check && now - Date.parse(c.last_check) > staleAfterMs) {
    return { state: 'amber', why: `stale: last check ${ago(c.last_check, now)}` };
  }
  return { state: 'green', why: '' };
}

let lastCollectors = null;
function renderCollectors(data) {
  lastCollectors = data.collectors;
  const now = Date.now();
  const list = $('collectors');
  const seen = new Set();
  for (const c of data.collectors) {
    seen.add(c.name);
    const { state, why } = collectorState(c, now);
    let li = list.querySelector(`li[data-collector="${CSS.escape(c.name)}"]`);
    if (!li) {
      li = el('li', { 'data-collector': c.name },
        el('span', { class: 'dot' }), el('span', { class: 'name' }, c.name),
        el('span', { class: 'type' }, c.type), el('span', { class: 'latency' }), el('span', { class: 'why' }));
      list.append(li);
    }
    li.dataset.state = state;
    li.querySelector('.latency').textContent = c.checked ? `${Math.round(c.latency_seconds * 1000)} ms` : '';
    li.querySelector('.why').textContent = why;
    const tip = [`${c.name} (${c.type}): ${state === 'green' ? 'up' : state === 'red' ? 'down' : why}`,
                 `last check: ${localTime(c.last_check)} (${ago(c.last_check, now)})`,
                 `last success: ${localTime(c.last_success)}`,
                 c.up ? `reason: ${c.reason}` : `reason: ${c.reason} — ${c.last_error}`,
                 ...(c.up && c.last_error ? [`last error: ${c.last_error} (${localTime(c.last_error_time)})`] : [])]
                .join('\n');
    li.dataset.tip = tip;
    li.title = tip;
  }
  for (const li of [...list.children]) if (!seen.has(li.dataset.collector)) li.remove();
  const down = data.collectors.filter((c) => c.checked && !c.up).length;
  $('health-note').textContent = data.collectors.length === 0 ? 'No collectors configured.'
    : `${data.collectors.length} collectors, ${down} down${data.ready ? '' : ' (not ready yet)'}`;
  $('version').textContent = data.version ? `v${data.version}` : '';
  // links: {grafana, alertmanager}, each present when configured
  for (const name of ['grafana', 'alertmanager']) {
    const a = $(`link-${name}`), url = (data.links || {})[name];
    if (url) a.href = url; else a.removeAttribute('href');
    a.hidden = !url;
  }
}

// ---- summary numbers, each with its change over the last minutes ----
const CARDS = [
  ['messages.total', 'messages', (v) => fmtInt(v)],
  ['messages.last_hour', 'last hour', (v) => fmtInt(v)],
  ['messages.last_24h', 'last 24 h', (v) => fmtInt(v)],
  ['messages.avg_response_time', 'avg response', (v) => `${fmtNum(v)} ms`],
  ['users.total', 'users', (v) => fmtInt(v)],
  ['users.active_today', 'active today', (v) => fmtInt(v)],
  ['users.active_this_week', 'active this week', (v) => fmtInt(v)],
  ['system.memory_mb', 'bot memory', (v) => `${fmtNum(v)} MiB`],
  ['system.cpu_percent', 'bot CPU', (v) => `${fmtNum(v)} %`],
  ['system.database_connections', 'DB connections', (v) => fmtInt(v)],
  ['uptime', 'uptime', (v) => fmtDuration(v)],
];
const summarySamples = [];  // [{t, summary}], the last TREND_WINDOW_MS

function fmtInt(v) { return v === null || v === undefined ? '—' : Math.round(v).toLocaleString(); }
function fmtNum(v) { return v === null || v === undefined ? '—' : (Math.abs(v) >= 100 ? Math.round(v) : Number(v).toFixed(1)).toLocaleString(); }
function fmtDuration(s) {
  if (s === null || s === undefined) return '—';
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return d ? `${d}d ${h}h` : h ? `${h}h ${m}m` : `${m}m ${Math.floor(s % 60)}s`;
}
function dig(o, path) { return path.split('.').reduce((x, k) => (x === null || x === undefined ? x : x[k]), o); }

// Why a system number is empty: the bot's numbers come from the first process
// collector that is up (the supervised child is one) and is not botwatch
// itself, the connections from a postgres collector.
function missingWhy(path) {
  const cs = lastCollectors || [];
  const want = path === 'system.database_connections' ? 'postgres' : 'process';
  const mine = cs.filter((c) => c.type === want && !c.is_botwatch);
  if (mine.length === 0) {
    return want === 'postgres' ? 'no postgres collector' : 'not supervised, no process collector (botwatch\'s own does not count)';
  }
  if (mine.some((c) => c.checked && c.up)) return 'no sample yet';
  if (mine.every((c) => !c.checked)) return 'not probed yet';
  return want === 'postgres' ? 'postgres down' : 'bot process down';
}

function renderSummary(s) {
  const now = Date.now();
  summarySamples.push({ t: now, s });
  while (summarySamples.length > 1 && now - summarySamples[0].t > TREND_WINDOW_MS) summarySamples.shift();
  const base = summarySamples[0];
  const box = $('summary');
  for (const [path, label, fmt] of CARDS) {
    let card = box.querySelector(`[data-field="${path}"]`);
    if (!card) {
      card = el('div', { class: 'card', 'data-field': path },
        el('div', { class: 'label' }, label), el('div', { class: 'value' }), el('div', { class: 'trend' }));
      box.append(card);
    }
    const v = dig(s, path);
    card.querySelector('.value').textContent = v === null || v === undefined ? '—' : fmt(v);
    const trend = card.querySelector('.trend');
    if ((v === null || v === undefined) && path.startsWith('system.')) {
      trend.className = 'trend why';
      trend.textContent = missingWhy(path);
      continue;
    }
    const old = dig(base.s, path);
    if (path === 'uptime' || typeof v !== 'number' || typeof old !== 'number' || base.t === now) {
      trend.className = 'trend';
      trend.textContent = '';
    } else {
      const d = v - old;
      const mins = Math.max(1, Math.round((now - base.t) / 60000));
      trend.className = `trend ${d > 0 ? 'up' : d < 0 ? 'down' : 'flat'}`;
      trend.textContent = `${d > 0 ? '+' : ''}${fmtNum(d)} in ${mins} min`;
    }
  }
  $('summary-note').textContent = `as of ${localTime(s.timestamp)}`;
}

// ---- 24-hour chart: per-minute counts folded into 15-minute bars ----
// Drawn in the box's own pixels (no stretching, so the labels keep their
// shape) and drawn again when the box changes width.
let lastHistory = null;
function niceStep(max) {
  const raw = max / 3, mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
}
function renderChart(h) {
  lastHistory = h;
  const per = 15;
  const counts = h.messages || [];
  const bars = [];
  for (let i = 0; i < counts.length; i += per) bars.push(counts.slice(i, i + per).reduce((a, b) => a + b, 0));
  const peak = Math.max(0, ...bars);
  const step = Math.max(1, Math.ceil(niceStep(Math.max(1, peak))));
  const top = Math.max(step, Math.ceil(peak / step) * step);
  const W = Math.max(240, Math.round($('chart').clientWidth || 480)), H = 160;
  const left = 8 + 7 * String(top).length, bottom = 18, topPad = 8;
  const plotW = W - left - 2, plotH = H - bottom - topPad;
  const bw = plotW / Math.max(1, bars.length);
  const ns = 'http://www.w3.org/2000/svg';
  const mk = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const svg = mk('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H });
  // y axis: gridlines and labels at round numbers of messages per 15 minutes
  for (let v = 0; v <= top; v += step) {
    const y = (topPad + plotH - (plotH * v) / top).toFixed(1);
    svg.append(mk('line', { x1: left, x2: W - 2, y1: y, y2: y, class: 'grid' }));
    svg.append(mk('text', { x: left - 4, y: Number(y) + 4, 'text-anchor': 'end', class: 'y' }, String(v)));
  }
  bars.forEach((v, i) => {
    const bh = (plotH * v) / top;
    const r = mk('rect', { x: (left + i * bw + 0.5).toFixed(1), y: (topPad + plotH - bh).toFixed(1),
                           width: Math.max(1, bw - 1).toFixed(1), height: bh.toFixed(1) });
    const start = new Date((h.end - (bars.length - i) * per * 60) * 1000);
    r.append(mk('title', {}, `${start.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })}: ${v} messages`));
    svg.append(r);
  });
  for (const [x, label, anchor] of [[left, '-24 h', 'start'], [left + plotW / 2, '-12 h', 'middle'], [W - 2, 'now', 'end']]) {
    svg.append(mk('text', { x, y: H - 4, 'text-anchor': anchor }, label));
  }
  $('chart').replaceChildren(svg);
  $('chart-note').textContent = `messages per ${per} min; peak ${peak}; ${fmtInt(bars.reduce((a, b) => a + b, 0))} in 24 h`;
}
if (window.ResizeObserver) {
  let width = 0;
  new ResizeObserver((entries) => {
    const w = Math.round(entries[0].contentRect.width);
    if (w !== width && lastHistory) renderChart(lastHistory);
    width = w;
  }).observe($('chart'));
}

// ---- live feed ----
function feedLine(ev) {
  const fields = ev.fields || {};
  const li = el('li', { class: 'fresh', 'data-id': ev.id ?? '', 'data-level': ev.level || '', 'data-type': ev.type || '' },
    el('span', { class: 't' }, ev.time ? new Date(ev.time).toLocaleTimeString() : ''),
    el('span', { class: 'ty' }, ev.type || 'event'));
  for (const [k, v] of Object.entries(fields)) {
    li.append(' ', el('span', { class: 'k' }, `${k}=`), typeof v === 'string' ? v : JSON.stringify(v));
  }
  return li;
}

function startFeed() {
  const state = $('feed-state');
  if (!window.EventSource) {
    state.textContent = 'unsupported';
    return;
  }
  const es = new EventSource('/api/v1/feed');
  es.onopen = () => { state.textContent = 'live'; state.dataset.state = 'green'; };
  es.onerror = () => { state.textContent = 'reconnecting…'; state.dataset.state = 'amber'; };
  es.onmessage = (m) => {
    let ev;
    try { ev = JSON.parse(m.data); } catch { return; }
    if (ev.id === undefined && m.lastEventId) ev.id = m.lastEventId;
    const list = $('feed');
    list.prepend(feedLine(ev));
    while (list.children.length > FEED_MAX_LINES) list.lastChild.remove();
  };
}

// ---- polling loops: each one schedules itself after it finishes ----
function every(ms, fn) {
  const run = async () => {
    try { await fn(); } catch (err) { console.warn(err); }
    setTimeout(run, ms);
  };
  run();
}

every(STATUS_EVERY_MS, async () => {
  const conn = $('conn');
  try {
    const body = await getJson('/api/v1/status');
    renderCollectors(body.data);
    conn.textContent = 'connected';
    conn.dataset.state = 'green';
  } catch (err) {
    conn.textContent = 'botwatch unreachable';
    conn.dataset.state = 'red';
    throw err;
  }
});

every(SUMMARY_EVERY_MS, async () => {
  try {
    renderSummary(await getJson('/api/v1/summary'));
  } catch (err) {
    $('summary-note').textContent = err.status === 404 ? 'No summary: this botwatch has no log pipeline.' : String(err.message);
  }
});

every(HISTORY_EVERY_MS, async () => {
  try {
    renderChart(await getJson('/api/v1/history'));
  } catch (err) {
    $('chart-note').textContent = err.status === 404 ? 'No message history yet.' : String(err.message);
  }
});

startFeed();
