// One writer process of test/reliability/concurrent.test.ts, running the BUILT library (dist/).
// Usage: node concurrent-worker.mjs ROLE LAYOUT SCRATCH ID COUNT STOPFILE
// Prints one JSON line at the end: what it did, so the test can check that nothing was lost.
// Roles: attach-<convention>, tagger, pusher (COUNT iterations); gc, convert, delete (loop until STOPFILE
// exists, at least COUNT times).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const lib = await import(
  process.env.OCILAYOUT_TEST_LIB !== undefined
    ? pathToFileURL(process.env.OCILAYOUT_TEST_LIB).href
    : new URL('../../dist/internal.js', import.meta.url).href
);
const { Layout, attach, convert, deleteBlob, gc, pushFiles, releaseLease, DEFAULT_ROOT_POLICY } =
  lib;

const [role, root, scratch, id, countText, stopFile] = process.argv.slice(2);
const count = Number(countText);
const SUBJECTS = ['s0', 's1', 's2'];
const CONVENTIONS = ['fallback-tag', 'subject-annotation', 'per-manifest'];
mkdirSync(scratch, { recursive: true });
const layout = () => Layout.open(root, { lockTimeoutMs: 120_000 });
// A CLI process releases its gc lease when it exits; a long-lived writer does it after each commit.
const done = () => releaseLease(root);
const file = (name, text) => {
  const path = join(scratch, name);
  writeFileSync(path, text);
  return path;
};
const pause = () => new Promise((r) => setTimeout(r, Math.random() * 5));
const stopped = () => existsSync(stopFile);

async function attacher(convention) {
  const attached = [];
  for (let i = 0; i < count; i++) {
    const subject = SUBJECTS[i % SUBJECTS.length];
    const r = await attach(layout(), { tag: subject }, [{ path: file(`f${i}`, `${id} ${i}\n`) }], {
      artifactType: `application/vnd.test.${convention}`,
      annotations: { 'test.worker': id, 'test.iteration': String(i) },
      convention,
    });
    done();
    attached.push({ subject: r.subject.digest, referrer: r.descriptor.digest });
    await pause();
  }
  return { attached };
}

async function tagger() {
  // Tags this process set and did not later remove: they must all be there at the end.
  const tags = {};
  for (let i = 0; i < count; i++) {
    const subject = SUBJECTS[i % SUBJECTS.length];
    const d = await layout().tag({ tag: subject }, [`${id}-${i}`]);
    tags[`${id}-${i}`] = d.digest;
    if (i % 3 === 2) {
      await layout().untag(`${id}-${i - 1}`);
      delete tags[`${id}-${i - 1}`];
    }
    await pause();
  }
  return { tags };
}

async function pusher() {
  // A small pool of contents under moving tags: contents keep turning into garbage and coming
  // back, the case where gc and a writer's idempotent "already there" check meet.
  const tags = {};
  // Two tags over four contents: each content is untagged (garbage) for two pushes, then back.
  const pool = [0, 1, 2, 3].map((c) =>
    file(`content-${c}.bin`, `${id} content ${c}\n`.repeat(2000)),
  );
  for (let i = 0; i < count; i++) {
    const tag = `${id}-${i % 2}`;
    const r = await pushFiles(layout(), [{ path: pool[(i * 3) % pool.length] }], {
      tag,
      artifactType: 'application/vnd.test.pushed',
    });
    done();
    tags[tag] = r.descriptor.digest;
    await pause();
  }
  return { tags };
}

async function gcLoop() {
  const totals = { runs: 0, removedBlobs: 0, removedEntries: 0, restored: 0 };
  // Widen the windows between mark and park and between park and re-check, as a slow disk would,
  // so writers really do lease and look inside them (as test/maintenance/gc-concurrency does).
  // The mark-to-park window is held longest: that is where a writer finds a doomed blob present.
  const onPhase = (phase) =>
    phase === 'marked' || phase === 'parked'
      ? new Promise((r) => setTimeout(r, phase === 'marked' ? 20 : 10))
      : undefined;
  while (totals.runs < count || !stopped()) {
    const r = await gc(layout(), { policy: DEFAULT_ROOT_POLICY, onPhase });
    totals.runs++;
    totals.removedBlobs += r.removedBlobs.length;
    totals.removedEntries += r.removedEntries.length;
    totals.restored += r.restoredBlobs.length;
    await new Promise((res) => setTimeout(res, 5 + Math.random() * 10));
  }
  return totals;
}

async function convertLoop() {
  const totals = { runs: 0, changed: 0 };
  while (totals.runs < count || !stopped()) {
    const plan = await convert(layout(), CONVENTIONS[totals.runs % CONVENTIONS.length]);
    done();
    totals.runs++;
    if (plan.changed) totals.changed++;
    await new Promise((res) => setTimeout(res, 5 + Math.random() * 20));
  }
  return totals;
}

async function deleteLoop() {
  // `blob delete` of random blobs, as a user cleaning up by hand: it must refuse everything a
  // committed entry reaches or a running writer has leased (E_CONFLICT), and a blob gc or another
  // delete took meanwhile is E_NOT_FOUND. Pushers keep re-pushing contents that are garbage now.
  const totals = { runs: 0, deleted: 0, refused: 0, gone: 0 };
  while (totals.runs < count || !stopped()) {
    const l = layout();
    const blobs = l.blobs.list().blobs;
    for (let k = 0; k < 6 && blobs.length > 0; k++) {
      const digest = blobs[Math.floor(Math.random() * blobs.length)];
      try {
        await deleteBlob(l, digest);
        totals.deleted++;
      } catch (err) {
        if (err.code === 'E_CONFLICT') totals.refused++;
        else if (err.code === 'E_NOT_FOUND') totals.gone++;
        else throw err;
      }
    }
    totals.runs++;
    await new Promise((res) => setTimeout(res, 5 + Math.random() * 10));
  }
  return totals;
}

const roles = {
  'attach-fallback-tag': () => attacher('fallback-tag'),
  'attach-subject-annotation': () => attacher('subject-annotation'),
  'attach-per-manifest': () => attacher('per-manifest'),
  tagger,
  pusher,
  gc: gcLoop,
  convert: convertLoop,
  delete: deleteLoop,
};
const run = roles[role];
if (run === undefined) throw new Error(`unknown role ${role}`);
console.log(JSON.stringify(await run()));
