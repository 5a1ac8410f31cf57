import { describe, expect, it } from 'vitest';
import { digestOf, parseDigest } from '../../src/digest.js';
import { NotFoundError } from '../../src/errors.js';
import { successors, walk, walkAsync, walkDocuments } from '../../src/layout/graph.js';
import { MediaType } from '../../src/media-types.js';
import type { Descriptor } from '../../src/schema/descriptor.js';
import { parseManifest } from '../../src/schema/manifest.js';
import {
  bytesOf,
  type BlobContent,
  imageBlobs,
  imageIndex,
  imageManifest,
  makeLayout,
  type Descs,
} from '../helpers/make-layout.js';

const missing = (what: string, mediaType: string = MediaType.ImageManifest): Descriptor => ({
  mediaType,
  digest: digestOf(what),
  size: what.length,
});

describe('successors', () => {
  it('lists config then layers of a manifest, and never its subject', () => {
    const cfg = missing('c', MediaType.ImageConfig);
    const l1 = missing('l1', MediaType.Layer);
    const l2 = missing('l2', MediaType.Layer);
    const subject = missing('s');
    const m = parseManifest(bytesOf(imageManifest(cfg, [l1, l2], { subject })), 'm');
    expect(successors(m)).toEqual([cfg, l1, l2]);
  });

  it('lists the manifests of an index', () => {
    const a = missing('a');
    const b = missing('b', MediaType.ImageIndex);
    expect(successors(parseManifest(bytesOf(imageIndex([a, b])), 'i'))).toEqual([a, b]);
  });
});

describe('walk', () => {
  /** root index → (nested index → amd64 manifest, arm64 manifest); both share the config. */
  const nested = (): ReturnType<typeof makeLayout> =>
    makeLayout({
      blobs: {
        config: { os: 'linux' },
        layerA: 'layer a',
        layerB: 'layer b',
        amd64: (d: Descs) => imageManifest(d['config']!, [d['layerA']!]),
        arm64: (d: Descs) => imageManifest(d['config']!, [d['layerB']!, d['layerA']!]),
        inner: (d: Descs) => imageIndex([d['amd64']!]),
        outer: (d: Descs) => imageIndex([d['inner']!, d['arm64']!]),
      },
      index: (d) => ({ schemaVersion: 2, manifests: [d['outer']!, d['arm64']!] }),
    });

  it('reaches everything under nested indexes, depth first, each digest once', () => {
    const fx = nested();
    const layout = fx.open();
    const visits: string[] = [];
    const name = (digest: string): string =>
      Object.entries(fx.d).find(([, v]) => v.digest === digest)![0];
    const r = walk(layout, layout.readIndex().manifests, {
      visit: (desc, parsed, parent) =>
        visits.push(
          `${name(desc.digest)}${parsed === undefined ? '' : `:${parsed.kind}`}<${parent === undefined ? 'root' : name(parent.digest)}`,
        ),
    });
    expect([...r.nodes.keys()].map(name)).toEqual([
      'outer',
      'inner',
      'amd64',
      'config',
      'layerA',
      'arm64',
      'layerB',
    ]);
    expect([...r.manifests.keys()].map(name).sort()).toEqual(['amd64', 'arm64', 'inner', 'outer']);
    expect(r.problems).toEqual([]);
    // Each digest visited once, even though arm64 is a root too and config/layerA are shared.
    expect(visits).toHaveLength(7);
    expect(visits).toContain('inner:index<outer');
    expect(visits).toContain('layerB<arm64');
  });

  it('walks a manifest first met as a plain layer when a later descriptor names it a manifest', () => {
    // An artifact that carries an image manifest as a layer, and that image listed in index.json:
    // the image's config and layer are reachable whichever root comes first.
    const fx = makeLayout({
      blobs: {
        ...imageBlobs(),
        artifact: (d: Descs) =>
          imageManifest(d['config']!, [
            { ...d['manifest']!, mediaType: 'application/octet-stream' },
          ]),
      },
    });
    const layout = fx.open();
    const visited: string[] = [];
    const r = walk(layout, [fx.d['artifact']!, fx.d['manifest']!], {
      visit: (desc) => visited.push(desc.digest),
    });
    expect(r.nodes.has(parseDigest(fx.d['layer']!.digest))).toBe(true);
    expect(r.manifests.has(parseDigest(fx.d['manifest']!.digest))).toBe(true);
    expect(new Set(visited).size).toBe(visited.length); // still one visit per node
    expect(r.nodes.size).toBe(4);
  });

  it('does not follow descriptors of unknown media types (but records them)', () => {
    const fx = makeLayout({ blobs: { doc: '<xml/>' } });
    const aux = { ...fx.d['doc']!, mediaType: 'application/xml' };
    const r = walk(fx.open(), [aux]);
    expect([...r.nodes.values()]).toEqual([aux]);
    expect(r.manifests.size).toBe(0);
  });

  describe('when content is missing or broken', () => {
    const broken = (): ReturnType<typeof makeLayout> =>
      makeLayout({
        blobs: {
          ...imageBlobs(),
          badChild: '{"schemaVersion":2,',
          index: (d: Descs) =>
            imageIndex([
              missing('gone'),
              { ...d['badChild']!, mediaType: MediaType.ImageManifest },
              d['manifest']!,
            ]),
        },
      });

    it('collects one problem per unreadable document, with its parent, and goes on', () => {
      const fx = broken();
      const r = walk(fx.open(), [fx.d['index']!], { collect: true });
      expect(r.problems.map((p) => [p.error.code, p.descriptor.digest, p.parent?.digest])).toEqual([
        ['E_NOT_FOUND', digestOf('gone'), fx.d['index']!.digest],
        ['E_INVALID_JSON', fx.d['badChild']!.digest, fx.d['index']!.digest],
      ]);
      // The good sibling was still walked.
      expect(r.nodes.has(parseDigest(fx.d['layer']!.digest))).toBe(true);
    });

    it('throws the first problem without `collect`', () => {
      const fx = broken();
      expect(() => walk(fx.open(), [fx.d['index']!])).toThrow(
        expect.objectContaining({ code: 'E_NOT_FOUND' }),
      );
    });

    it.each([
      ['uppercase hex', `sha256:${'A'.repeat(64)}`, 'E_INVALID_DIGEST'],
      ['an algorithm we cannot verify', `sha384:${'a'.repeat(96)}`, 'E_UNSUPPORTED_ALGORITHM'],
    ])('reports a descriptor digest with %s as a problem', (_name, digest, code) => {
      const fx = makeLayout({
        blobs: {
          config: { os: 'linux' },
          m: (d: Descs) =>
            imageManifest(d['config']!, [{ mediaType: MediaType.Layer, digest, size: 1 }]),
        },
      });
      const r = walk(fx.open(), [fx.d['m']!], { collect: true });
      expect(r.problems).toHaveLength(1);
      expect(r.problems[0]).toMatchObject({ error: { code }, parent: fx.d['m'] });
      expect(r.nodes.has(parseDigest(fx.d['config']!.digest))).toBe(true);
    });
  });

  it('stops at the depth cap: indexes nested deeper are a problem, not a stack overflow', () => {
    const blobs: Record<string, (d: Descs) => BlobContent> = { leaf: () => imageIndex([]) };
    for (let i = 1; i <= 6; i++)
      blobs[`level${i}`] = (d) => imageIndex([d[i === 1 ? 'leaf' : `level${i - 1}`]!]);
    const fx = makeLayout({ blobs });
    const r = walk(fx.open(), [fx.d['level6']!], { collect: true, maxDepth: 3 });
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]!.error.code).toBe('E_SCHEMA');
    expect(r.manifests.size).toBe(4); // depths 0..3
    expect(() => walk(fx.open(), [fx.d['level6']!], { maxDepth: 3 })).toThrow(
      expect.objectContaining({ code: 'E_SCHEMA' }),
    );
    expect(walk(fx.open(), [fx.d['level6']!]).manifests.size).toBe(7);
  });

  it('reports every reference as reached, and each document once its successors are walked', () => {
    const fx = nested();
    const layout = fx.open();
    const name = (digest: string): string =>
      Object.entries(fx.d).find(([, v]) => v.digest === digest)![0];
    const events: string[] = [];
    walk(layout, layout.readIndex().manifests, {
      reach: (desc) => events.push(`reach ${name(desc.digest)}`),
      leave: (desc, parsed) => events.push(`leave ${name(desc.digest)}:${parsed.kind}`),
    });
    expect(events).toEqual([
      'reach outer',
      'reach inner',
      'reach amd64',
      'reach config',
      'reach layerA',
      'leave amd64:manifest',
      'leave inner:index',
      'reach arm64',
      'reach config', // repeats are reached again, but not walked again
      'reach layerB',
      'reach layerA',
      'leave arm64:manifest',
      'leave outer:index',
      'reach arm64',
    ]);
  });

  it('goes on from an earlier walk without reading or visiting what it reached', () => {
    const fx = nested();
    const layout = fx.open();
    const first = walk(layout, [fx.d['inner']!]);
    const reads: string[] = [];
    const visits: string[] = [];
    const source = {
      readManifest: (d: Descriptor) => (reads.push(d.digest), layout.readManifest(d)),
    };
    const r = walk(source, [fx.d['outer']!], { from: first, visit: (d) => visits.push(d.digest) });
    expect(r).toBe(first);
    expect(reads.sort()).toEqual([fx.d['outer']!.digest, fx.d['arm64']!.digest].sort());
    expect(visits).toEqual([fx.d['outer']!.digest, fx.d['arm64']!.digest, fx.d['layerB']!.digest]);
    expect(r.nodes.size).toBe(7);
  });

  it('reads a descriptor as a document when isDocument says so, whatever its media type', () => {
    const fx = makeLayout({ blobs: imageBlobs() });
    const odd = { ...fx.d['manifest']!, mediaType: 'application/octet-stream' };
    expect(walk(fx.open(), [odd]).manifests.size).toBe(0);
    const r = walk(fx.open(), [odd], { isDocument: (_d, parent) => parent === undefined });
    expect(r.manifests.size).toBe(1);
    expect(r.nodes.size).toBe(3);
  });

  it('arrives at every reference with its document and its parent, repeats and failures included', () => {
    const fx = makeLayout({
      blobs: {
        ...imageBlobs(),
        index: (d: Descs) => imageIndex([d['manifest']!, missing('gone'), d['manifest']!]),
      },
    });
    const name = (digest: string): string =>
      Object.entries(fx.d).find(([, v]) => v.digest === digest)?.[0] ?? 'gone';
    const events: string[] = [];
    walk(fx.open(), [fx.d['index']!, fx.d['manifest']!], {
      collect: true,
      arrive: ({ desc, doc }, parent) =>
        events.push(
          `${name(desc.digest)}:${doc?.kind ?? '-'}<${parent === undefined ? 'root' : `${name(parent.desc.digest)}:${parent.doc!.kind}`}`,
        ),
    });
    expect(events).toEqual([
      'index:index<root',
      'manifest:manifest<index:index',
      'config:-<manifest:manifest',
      'layer:-<manifest:manifest',
      'gone:-<index:index', // unreadable: arrived at without a document
      'manifest:manifest<index:index', // a repeat, with the document read the first time
      'manifest:manifest<root',
    ]);
  });

  describe('walkDocuments', () => {
    /** Documents of our own shape: a name and the names it points to. */
    type Doc = { name: string; next: Descriptor[] };
    const ref = (name: string): Descriptor => ({
      mediaType: MediaType.ImageIndex,
      digest: digestOf(name),
      size: name.length,
    });
    const docs = new Map<string, Doc>([
      [ref('a').digest, { name: 'a', next: [ref('b'), ref('c')] }],
      [ref('b').digest, { name: 'b', next: [ref('c'), ref('a')] }], // a cycle back to a
      [ref('c').digest, { name: 'c', next: [] }],
    ]);
    const read = (d: Descriptor): Doc => {
      const doc = docs.get(d.digest);
      if (doc === undefined) throw new NotFoundError('E_NOT_FOUND', `${d.digest}: no such doc`);
      return doc;
    };

    it('walks any document shape through the successors it is given, each once', () => {
      const reads: string[] = [];
      const arrivals: string[] = [];
      const r = walkDocuments(
        (d) => {
          const doc = read(d);
          reads.push(doc.name);
          return doc;
        },
        (doc) => doc.next,
        [ref('a')],
        { arrive: ({ doc }, parent) => arrivals.push(`${doc!.name}<${parent?.doc?.name ?? ''}`) },
      );
      expect(reads).toEqual(['a', 'b', 'c']);
      expect(arrivals).toEqual(['a<', 'b<a', 'c<b', 'a<b', 'c<a']);
      expect([...r.manifests.values()].map((d) => d.name)).toEqual(['a', 'b', 'c']);
    });

    it('skips a malformed or unreadable sibling with `collect` and goes on with the rest', () => {
      const bad = { mediaType: MediaType.ImageIndex, digest: 'sha256:nope', size: 1 };
      const root: Doc = { name: 'root', next: [bad, ref('unknown'), ref('c')] };
      const r = walkDocuments(
        (d) => (d.digest === digestOf('root') ? root : read(d)),
        (doc) => doc.next,
        [ref('root')],
        { collect: true },
      );
      expect(r.problems.map((p) => p.error.code)).toEqual(['E_INVALID_DIGEST', 'E_NOT_FOUND']);
      expect([...r.manifests.values()].map((d) => d.name)).toEqual(['root', 'c']);
    });
  });

  describe('walkAsync', () => {
    it('makes the same walk as walk over an asynchronous reader', async () => {
      const fx = nested();
      const layout = fx.open();
      const roots = layout.readIndex().manifests;
      const trace = (log: string[]) => ({
        visit: (d: Descriptor) => log.push(`visit ${d.digest}`),
        reach: (d: Descriptor) => log.push(`reach ${d.digest}`),
        leave: (d: Descriptor) => log.push(`leave ${d.digest}`),
      });
      const syncLog: string[] = [];
      const asyncLog: string[] = [];
      const s = walk(layout, roots, trace(syncLog));
      const a = await walkAsync(
        (d) => new Promise((resolve) => setImmediate(() => resolve(layout.readManifest(d)))),
        roots,
        trace(asyncLog),
      );
      expect(asyncLog).toEqual(syncLog);
      expect([...a.nodes.keys()]).toEqual([...s.nodes.keys()]);
      expect([...a.manifests.keys()]).toEqual([...s.manifests.keys()]);
    });

    it('collects a failed read as a problem, or throws it as the reader threw it', async () => {
      const fx = nested();
      const layout = fx.open();
      const err = Object.assign(new Error('network down'), { code: 'E_TEST' });
      const read = (d: Descriptor) =>
        d.digest === fx.d['inner']!.digest
          ? Promise.reject(err)
          : Promise.resolve(layout.readManifest(d));
      await expect(walkAsync(read, [fx.d['outer']!])).rejects.toBe(err);
      const r = await walkAsync(read, [fx.d['outer']!], { collect: true });
      expect(r.problems.map((p) => [p.descriptor.digest, p.error.cause])).toEqual([
        [fx.d['inner']!.digest, err],
      ]);
      expect(r.manifests.size).toBe(2); // outer and arm64
    });
  });
});
