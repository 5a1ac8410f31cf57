#!/usr/bin/env node
// A minimal registry pull client for the serve rows, the same for serve and for docker-registry:
// CONCURRENCY pulls of one image at once (manifest, then config and layers in parallel, bodies
// counted and dropped, as a client streaming to disk would read them), and meanwhile a probe that
// GETs the manifest over its own keep-alive connection, one request after another, until the
// pulls end (the manifest latency under that load).
//   pull-load.mjs URL REPO TAG CONCURRENCY -> {"pullMs": …, "bytes": …, "latency": {p50, p99, max, n}}
import { Agent, request } from 'node:http';

const [base, repo, tag, concurrencyArg] = process.argv.slice(2);
const concurrency = Number(concurrencyArg);
const ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** GET a path; resolves with the status, the body (kept only when asked) and its length. */
function get(agent, path, keep) {
  return new Promise((resolve, reject) => {
    const req = request(`${base}${path}`, { agent, headers: { Accept: ACCEPT } }, (res) => {
      const chunks = [];
      let bytes = 0;
      res.on('data', (c) => {
        bytes += c.length;
        if (keep) chunks.push(c);
      });
      res.on('end', () => {
        if (res.statusCode !== 200) {
          reject(new Error(`GET ${path}: ${res.statusCode} ${Buffer.concat(chunks)}`));
          return;
        }
        resolve({ bytes, body: keep ? Buffer.concat(chunks) : undefined });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

const pullAgent = new Agent({ keepAlive: true, maxSockets: Infinity });

async function pullOnce() {
  const m = await get(pullAgent, `/v2/${repo}/manifests/${tag}`, true);
  const doc = JSON.parse(m.body.toString('utf8'));
  const blobs = [doc.config, ...doc.layers];
  const sizes = await Promise.all(
    blobs.map((d) => get(pullAgent, `/v2/${repo}/blobs/${d.digest}`, false)),
  );
  for (const [i, d] of blobs.entries()) {
    if (sizes[i].bytes !== d.size) throw new Error(`${d.digest}: ${sizes[i].bytes} of ${d.size}`);
  }
  return m.bytes + sizes.reduce((a, s) => a + s.bytes, 0);
}

const probeAgent = new Agent({ keepAlive: true, maxSockets: 1 });
let done = false;
const latencies = [];
const probe = (async () => {
  while (!done) {
    const t0 = process.hrtime.bigint();
    await get(probeAgent, `/v2/${repo}/manifests/${tag}`, false);
    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
})();

const t0 = process.hrtime.bigint();
const totals = await Promise.all(Array.from({ length: concurrency }, () => pullOnce()));
const pullMs = Number(process.hrtime.bigint() - t0) / 1e6;
done = true;
await probe;
pullAgent.destroy();
probeAgent.destroy();

const s = [...latencies].sort((a, b) => a - b);
const pct = (p) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
console.log(
  JSON.stringify({
    pullMs,
    bytes: totals.reduce((a, b) => a + b, 0),
    latency: { p50: pct(50), p99: pct(99), max: s.at(-1), n: s.length },
  }),
);
