#!/usr/bin/env node
// A minimal registry pull client for the serve rows, the same for serve and for docker-registry:
// CONCURRENCY pulls of one image at once (manifest, then config and layers in parallel, bodies
// counted and dropped, as a client streaming to disk would read them), and meanwhile a probe that
// GETs the manifest over its own keep-alive connection, one request after another, until the
// pulls end (the manifest latency under that load).
//
// The probe runs on a worker thread, with its own event loop. On the pulls' loop it measured the
// client more than the server: that loop, saturated by the bodies of all the pulls arriving at
// once, ran a reply's callback only after the body chunks queued before it, so the faster a
// server sent bodies, the later its manifest replies were seen (spec-notes/performance.md has the
// figures). `clientLoopDelay` (how late the pulls' loop ran a timer) is reported beside it.
//   pull-load.mjs URL REPO TAG CONCURRENCY
//     -> {"pullMs": …, "bytes": …, "latency": {p50, p99, max, n}, "clientLoopDelay": {p50, p99, max}}
import { Agent, request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';

const ACCEPT = [
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** GET a path; resolves with the status, the body (kept only when asked) and its length. */
function get(base, agent, path, keep) {
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

const ms = (ns) => Number(ns) / 1e6;

/** The probe (worker thread): manifest GETs one after another until told to stop. */
async function probeThread({ base, repo, tag }) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let done = false;
  parentPort.once('message', () => (done = true));
  const latencies = [];
  while (!done) {
    const t0 = process.hrtime.bigint();
    await get(base, agent, `/v2/${repo}/manifests/${tag}`, false);
    latencies.push(ms(process.hrtime.bigint() - t0));
  }
  agent.destroy();
  parentPort.postMessage(latencies);
}

async function main() {
  const [base, repo, tag, concurrencyArg] = process.argv.slice(2);
  const concurrency = Number(concurrencyArg);
  const pullAgent = new Agent({ keepAlive: true, maxSockets: Infinity });

  async function pullOnce() {
    const m = await get(base, pullAgent, `/v2/${repo}/manifests/${tag}`, true);
    const doc = JSON.parse(m.body.toString('utf8'));
    const blobs = [doc.config, ...doc.layers];
    const sizes = await Promise.all(
      blobs.map((d) => get(base, pullAgent, `/v2/${repo}/blobs/${d.digest}`, false)),
    );
    for (const [i, d] of blobs.entries()) {
      if (sizes[i].bytes !== d.size) throw new Error(`${d.digest}: ${sizes[i].bytes} of ${d.size}`);
    }
    return m.bytes + sizes.reduce((a, s) => a + s.bytes, 0);
  }

  const probe = new Worker(new URL(import.meta.url), { workerData: { base, repo, tag } });
  const probeFailed = new Promise((_, reject) => probe.once('error', reject));
  const latenciesP = Promise.race([
    new Promise((resolve) => probe.once('message', resolve)),
    probeFailed,
  ]);
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();

  const t0 = process.hrtime.bigint();
  const totals = await Promise.race([
    Promise.all(Array.from({ length: concurrency }, () => pullOnce())),
    probeFailed,
  ]);
  const pullMs = ms(process.hrtime.bigint() - t0);
  loop.disable();
  probe.postMessage('stop');
  const latencies = await latenciesP;
  pullAgent.destroy();

  const s = [...latencies].sort((a, b) => a - b);
  const pct = (p) => s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)];
  // The histogram records the whole time between two runs of its timer, the resolution included
  // (an idle loop reads the resolution itself): only what exceeds it is a delay.
  const late = (v) => Math.max(0, ms(v) - 10);
  console.log(
    JSON.stringify({
      pullMs,
      bytes: totals.reduce((a, b) => a + b, 0),
      latency: { p50: pct(50), p99: pct(99), max: s.at(-1), n: s.length },
      clientLoopDelay: {
        p50: late(loop.percentile(50)),
        p99: late(loop.percentile(99)),
        max: late(loop.max),
      },
    }),
  );
}

if (isMainThread) await main();
else await probeThread(workerData);
