// A real prom-client registry served over HTTP: what a Node bot's /metrics
// looks like, for botwatch's `type: scrape` tests.
//   node server.js PORT   (0: any free port; prints "listening PORT")
// Routes:
//   /metrics        the registry in the Prometheus text format: default metrics
//                   (process_*, nodejs_*), a counter whose labels clash with the
//                   ones botwatch and Prometheus add, exact values, a histogram
//   /openmetrics    a registry in OpenMetrics (prom-client's OPENMETRICS type)
//   /hang           accepts the request and never answers
//   /many?n=N       a gauge with N series
//   /botwatch       a family under a name botwatch owns
//   /private        /metrics, but only with "Authorization: Bearer $PEER_TOKEN"
//   /requests       how many requests /private saw with and without the token
'use strict';
const http = require('http');
const client = require('prom-client');

const text = new client.Registry();
client.collectDefaultMetrics({ register: text });
const messages = new client.Counter({
  name: 'demo_messages_total', help: 'Messages handled by the demo.',
  labelNames: ['direction', 'collector', 'instance'], registers: [text],
});
messages.inc({ direction: 'inbound', collector: 'theirs', instance: 'pod-7' }, 42);
messages.inc({ direction: 'outbound', collector: 'theirs', instance: 'pod-7' }, 40);
// Values whose shortest spelling needs all 17 digits, or sits at a limit of the
// double: carried bit for bit or not at all.
const exact = new client.Gauge({ name: 'demo_exact_value', help: 'Exact values.', labelNames: ['case'], registers: [text] });
exact.set({ case: 'third' }, 0.1 + 0.2);
exact.set({ case: 'pi' }, Math.PI);
exact.set({ case: 'tiny' }, 5e-324);
exact.set({ case: 'huge' }, 1.7976931348623157e308);
exact.set({ case: 'big_integer' }, 123456789012345680000);
exact.set({ case: 'negative' }, -2.5e-7);
const latency = new client.Histogram({
  name: 'demo_reply_seconds', help: 'Reply latency.', buckets: [0.05, 0.1, 0.25, 1, 2.5], registers: [text],
});
for (const v of [0.01, 0.07, 0.2, 0.2, 0.9, 3.3]) latency.observe(v);

const om = new client.Registry(client.Registry.OPENMETRICS_CONTENT_TYPE);
const omCounter = new client.Counter({ name: 'demo_om_events', help: 'Events counted in OpenMetrics.', registers: [om] });
omCounter.inc(7);
const omGauge = new client.Gauge({ name: 'demo_om_ratio', help: 'A "quoted" help.', registers: [om] });
omGauge.set(0.1 + 0.7);

const own = new client.Registry();
new client.Gauge({ name: 'botwatch_build_info', help: 'Not ours to serve.', registers: [own] }).set(1);

let withToken = 0;
let withoutToken = 0;

async function serve(res, registry) {
  const body = await registry.metrics();
  res.writeHead(200, { 'Content-Type': registry.contentType });
  res.end(body);
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, 'http://localhost');
  try {
    if (url.pathname === '/metrics') return await serve(res, text);
    if (url.pathname === '/openmetrics') return await serve(res, om);
    if (url.pathname === '/botwatch') return await serve(res, own);
    if (url.pathname === '/hang') return;  // never answered
    if (url.pathname === '/many') {
      const n = Number(url.searchParams.get('n') || '100');
      const many = new client.Registry();
      const g = new client.Gauge({ name: 'demo_many', help: 'Many series.', labelNames: ['i'], registers: [many] });
      for (let i = 0; i < n; i++) g.set({ i: String(i) }, i);
      return await serve(res, many);
    }
    if (url.pathname === '/private') {
      if (req.headers.authorization === `Bearer ${process.env.PEER_TOKEN}`) {
        withToken++;
        return await serve(res, text);
      }
      withoutToken++;
      res.writeHead(401, { 'Content-Type': 'text/plain' });
      return res.end('unauthorized\n');
    }
    if (url.pathname === '/requests') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      return res.end(JSON.stringify({ with_token: withToken, without_token: withoutToken }));
    }
    res.writeHead(404);
    res.end();
  } catch (e) {
    res.writeHead(500);
    res.end(String(e));
  }
});
server.listen(Number(process.argv[2] || 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
