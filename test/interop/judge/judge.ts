// The interop judge: what real third-party tools make of an OCI layout (or an oci-archive tar, which
// is extracted first). Every verdict comes from skopeo, umoci, oci-image-tool, docker-registry,
// GNU tar, sha256sum, or the judge's own reader (walk.ts); nothing from ocilayout. The input is never
// changed: gc, unpack and validation run on hard-linked copies in a temp dir removed at the end.
//
// Layout checks:
//   archive     tar extracts it; no absolute or `..` member names
//   structure   walk.ts: oci-layout, index.json, every reachable descriptor present with its size and
//               media type, no stray files in blobs/<alg>/, no ambiguous tag (warnings reported)
//   digests     sha256sum of every blobs/sha256 file equals its name
//   umoci ls    lists exactly the ref.name set of index.json
//   validate    oci-image-tool validate --type image on the whole layout (a SKIP when it trips only on
//               OCI 1.1 artifacts, whose empty config media type 1.0.0-rc1 does not know)
//   umoci gc    on a copy: succeeds, the layout stays whole, every listed referrer survives
//   referrers   each found (every convention), well-formed (subject matches, artifactType pulled up);
//               blob-only ones fail unless allowOrphans (umoci gc deletes them)
// Per tag (default: every tag except sha256-<hex> fallback tags):
//   oci-image-tool on a one-tag view (its --ref filter is broken); umoci stat --json and
//   unpack --rootless (images); skopeo inspect --raw hashes to the index.json digest; skopeo inspect
//   Digest (images); skopeo reads the input archive itself; skopeo copy --preserve-digests
//   oci -> oci-archive -> oci keeps the digest; loopback docker-registry: push (Docker-Content-Digest
//   equals), pull back (same digest, whole layout), each listed referrer pushed and pulled by digest,
//   the fallback-tag index PUT with its exact bytes and read back with the same digest, and the
//   registry's answer to the referrers API reported (distribution 2.8 has none).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { startRegistry, type RunningRegistry } from '../../helpers/registry.js';
import {
  MEDIA,
  REF_NAME,
  isFallbackTag,
  isIndexType,
  listedReferrers,
  walkLayout,
} from './walk.js';

/** The programs the judge runs; a missing one is an error, never a skipped check. */
export const JUDGE_TOOLS = [
  'skopeo',
  'umoci',
  'oci-image-tool',
  'docker-registry',
  'tar',
  'sha256sum',
];

export interface JudgeOptions {
  /** Tags to check (default: every tag except fallback tags). */
  tags?: string[];
  /** Skip the registry round trips (reported as SKIP). */
  registry?: boolean;
  /** Skip umoci unpack. */
  unpack?: boolean;
  /** Blob-only referrers are a warning, not a failure. */
  allowOrphans?: boolean;
}

export type Status = 'PASS' | 'FAIL' | 'SKIP' | 'WARN' | 'INFO';
export interface Verdict {
  lines: { status: Status; text: string }[];
  passed: number;
  failed: number;
  skipped: number;
  warnings: number;
  /** Every line, then `interop: N passed, M failed, K skipped, W warnings (INPUT)`. */
  report: string;
}

interface Run {
  ok: boolean;
  code: number | null;
  stdout: Buffer;
  output: string;
}
function run(cmd: string, args: string[]): Run {
  const r = spawnSync(cmd, args, { timeout: 170_000, maxBuffer: 256 << 20 });
  if (r.error !== undefined && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new Error(`interop judge: ${cmd} is not installed`);
  }
  const stdout = r.stdout ?? Buffer.alloc(0);
  const output = `${stdout.toString('utf8')}${r.stderr?.toString('utf8') ?? ''}${r.error ? String(r.error) : ''}`;
  return { ok: r.status === 0, code: r.status, stdout, output };
}
const skopeo = (...args: string[]): Run => run('skopeo', ['--insecure-policy', ...args]);
const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
/** The last lines of a tool's output, for a failure message. */
const tail = (s: string): string =>
  s
    .trim()
    .split('\n')
    .slice(-3)
    .map((l) => `      | ${l.slice(0, 300)}`)
    .join('\n');

/** `cp -al`: the tree with every file hard-linked (copied across filesystems). */
export function linkTree(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const e of readdirSync(from, { withFileTypes: true })) {
    const a = join(from, e.name);
    const b = join(to, e.name);
    if (e.isDirectory()) linkTree(a, b);
    else {
      try {
        linkSync(a, b);
      } catch {
        copyFileSync(a, b);
      }
    }
  }
}

/** A layout view: the same blobs (hard links), `oci-layout`, and index.json (given, else copied). */
function view(layout: string, dir: string, index?: unknown): void {
  mkdirSync(dir, { recursive: true });
  // What is missing stays missing: the tools must see the same faults.
  if (existsSync(join(layout, 'oci-layout'))) {
    copyFileSync(join(layout, 'oci-layout'), join(dir, 'oci-layout'));
  }
  if (existsSync(join(layout, 'blobs'))) linkTree(join(layout, 'blobs'), join(dir, 'blobs'));
  if (index !== undefined) writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  else if (existsSync(join(layout, 'index.json'))) {
    copyFileSync(join(layout, 'index.json'), join(dir, 'index.json'));
  }
}

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}
function http(
  method: string,
  url: string,
  headers: Record<string, string> = {},
  body?: Buffer,
): Promise<HttpAnswer> {
  return new Promise((res, rej) => {
    const req = request(url, { method, headers }, (r) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () =>
        res({
          status: r.statusCode ?? 0,
          headers: r.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
      r.on('error', rej);
    });
    req.on('error', rej);
    req.end(body);
  });
}
const ACCEPT_ALL = [MEDIA.ociManifest, MEDIA.ociIndex, MEDIA.dockerManifest, MEDIA.dockerList].join(
  ', ',
);

/** Judges LAYOUT_DIR or ARCHIVE.tar with the real tools. Throws only when a tool is missing. */
export async function judgeLayout(input: string, options: JudgeOptions = {}): Promise<Verdict> {
  const useRegistry = options.registry ?? true;
  const lines: Verdict['lines'] = [];
  const say = (status: Status, text: string): void => {
    lines.push({ status, text });
  };
  const pass = (t: string): void => say('PASS', t);
  const fail = (t: string, detail?: string): void =>
    say('FAIL', detail === undefined || detail.trim() === '' ? t : `${t}\n${tail(detail)}`);

  const tmp = mkdtempSync(join(tmpdir(), 'ocilayout-judge-'));
  let registry: RunningRegistry | undefined;
  try {
    // ---- input: a directory, or an archive extracted by GNU tar
    let layout: string;
    let archive: string | undefined;
    if (statSync(input).isFile()) {
      archive = resolve(input);
      layout = join(tmp, 'extracted');
      mkdirSync(layout);
      const x = run('tar', ['-xf', archive, '-C', layout]);
      if (x.ok) pass(`archive: tar -xf ${basename(input)}`);
      else fail(`archive: tar -xf ${basename(input)}`, x.output);
      const members = run('tar', ['-tf', archive]).stdout.toString('utf8').split('\n');
      const unsafe = members.filter((m) => m.startsWith('/') || /(^|\/)\.\.(\/|$)/.test(m));
      if (unsafe.length === 0) pass('archive: no absolute or .. member names');
      else fail(`archive: unsafe member names: ${unsafe.slice(0, 3).join(', ')}`);
    } else layout = resolve(input);

    // ---- the layout as a whole
    const walk = walkLayout(layout);
    if (walk.errors.length === 0) {
      pass(
        `structure: oci-layout, index.json, ${walk.reachable} reachable descriptors present with matching sizes`,
      );
    } else fail(`structure: ${walk.errors.length} problem(s)`, walk.errors.slice(0, 10).join('\n'));
    for (const w of walk.warnings.slice(0, 10)) say('WARN', w);
    if (walk.unreachable.length > 0) {
      say(
        'INFO',
        `${walk.unreachable.length} blob(s) not reachable from index.json (gc candidates)`,
      );
    }

    const shaDir = join(layout, 'blobs', 'sha256');
    const named = existsSync(shaDir)
      ? readdirSync(shaDir).filter((f) => /^[0-9a-f]{64}$/.test(f))
      : [];
    const wrong: string[] = [];
    for (let i = 0; i < named.length; i += 200) {
      const batch = named.slice(i, i + 200);
      const sums = run(
        'sha256sum',
        batch.map((f) => join(shaDir, f)),
      );
      for (const line of sums.stdout.toString('utf8').split('\n')) {
        const m = /^([0-9a-f]{64}) [ *](.*)$/.exec(line);
        if (m && basename(m[2]!) !== m[1]) wrong.push(`${basename(m[2]!)} hashes to ${m[1]}`);
      }
      if (!sums.ok) wrong.push(`sha256sum failed: ${sums.output.trim()}`);
    }
    if (wrong.length === 0)
      pass(`digests: ${named.length} blobs in blobs/sha256 match their names (sha256sum)`);
    else fail(`digests: ${wrong.length} blob(s) do not match their names`, wrong.join('\n'));

    const tagSet = Object.keys(walk.tags).sort();
    const ls = run('umoci', ['ls', '--layout', layout]);
    if (!ls.ok) fail('umoci ls --layout failed', ls.output);
    else {
      const listed = [
        ...new Set(
          ls.stdout
            .toString('utf8')
            .split('\n')
            .filter((l) => l !== ''),
        ),
      ].sort();
      if (JSON.stringify(listed) === JSON.stringify(tagSet))
        pass(`umoci ls: lists the ${listed.length} tag(s) in index.json`);
      else
        fail(
          `umoci ls: tag set differs from index.json: umoci [${listed.join(', ')}], index.json [${tagSet.join(', ')}]`,
        );
    }

    const oit = run('oci-image-tool', ['validate', '--type', 'image', layout]);
    if (oit.ok) pass('oci-image-tool validate --type image (whole layout)');
    else if (walk.artifacts.length > 0 && oit.output.includes('config validation failed')) {
      const why =
        /invalid descriptor MediaType[^,\n]*/.exec(oit.output)?.[0].replaceAll(/[\\"]/g, '') ?? '';
      say(
        'SKIP',
        `oci-image-tool validate (whole layout): rejects OCI 1.1 artifacts (${why}) - a known 1.0.0-rc1 limit; per-tag views below`,
      );
    } else fail('oci-image-tool validate --type image (whole layout)', oit.output);

    if (walk.dockerMediaTypes.length > 0) {
      say(
        'WARN',
        `${walk.dockerMediaTypes.length} Docker-media-type manifest(s): skopeo's oci: transport cannot read them and umoci gc deletes their blobs`,
      );
    }

    // umoci gc walks into indexes, so it keeps what index.json lists and deletes the rest.
    const gcDir = join(tmp, 'gc');
    view(layout, gcDir);
    const gc = run('umoci', ['gc', '--layout', gcDir]);
    if (!gc.ok) fail('umoci gc --layout (on a copy)', gc.output);
    else {
      const after = walkLayout(gcDir);
      const before = listedReferrers(walk).length;
      const kept = listedReferrers(after).length;
      if (before === kept && after.errors.length === 0)
        pass(`umoci gc (on a copy): layout intact, ${kept} listed referrer(s) survive`);
      else {
        fail(
          `umoci gc (on a copy) broke the layout: listed referrers ${before} -> ${kept}, ${after.errors.length} structure error(s) after gc`,
          after.errors.slice(0, 5).join('\n'),
        );
      }
    }
    rmSync(gcDir, { recursive: true, force: true });

    const all = Object.entries(walk.referrers).flatMap(([subject, l]) =>
      l.map((x) => ({ subject, ...x })),
    );
    for (const x of all) {
      say(
        'INFO',
        `referrer ${x.digest} of ${x.subject} artifactType=${x.artifactType} via ${x.via.join(',')}`,
      );
    }
    if (all.length > 0) {
      if (walk.referrerIssues.length === 0)
        pass(
          `referrers: ${all.length} found; fallback/annotation indexes well-formed (subject matches, artifactType pulled up)`,
        );
      else
        fail(
          `referrers: ${walk.referrerIssues.length} problem(s)`,
          walk.referrerIssues.slice(0, 8).join('\n'),
        );
    }
    const orphans = all.length - listedReferrers(walk).length;
    if (orphans > 0) {
      const text = `referrers: ${orphans} blob-only referrer(s) not listed in any convention (umoci gc deletes them)`;
      if (options.allowOrphans === true) say('WARN', `${text}; allowed`);
      else fail(text);
    }

    // ---- per tag
    const tags = options.tags ?? tagSet.filter((t) => !isFallbackTag(t));
    if (tags.length === 0)
      fail('no tags to check (index.json has no org.opencontainers.image.ref.name)');
    if (useRegistry) {
      try {
        registry = await startRegistry();
        pass(`registry: docker-registry started on ${registry.host}`);
      } catch (e) {
        fail('registry: could not start docker-registry', (e as Error).message);
      }
    }
    const repo = 'interop/check';
    const entries = indexEntries(layout);
    let n = 0;
    for (const tag of tags) {
      n++;
      const p = `[${tag}]`;
      const digests = [...new Set(walk.tags[tag] ?? [])];
      if (digests.length !== 1) {
        fail(`${p} tag missing or ambiguous in index.json`);
        continue;
      }
      const digest = digests[0]!;
      const entry = walk.entries.find((e) => e.digest === digest)!;
      const blob = join(layout, 'blobs', ...digest.split(':'));
      let kind: 'index' | 'image' | 'artifact' | 'other' = 'other';
      let configType = '';
      if (isIndexType(entry.mediaType)) kind = 'index';
      else if (typeof entry.mediaType === 'string' && entry.mediaType.includes('manifest')) {
        try {
          configType = String(
            (JSON.parse(readFileSync(blob, 'utf8')) as { config?: { mediaType?: string } }).config
              ?.mediaType,
          );
        } catch {
          configType = '(unreadable)';
        }
        kind =
          configType === MEDIA.ociConfig || configType === MEDIA.dockerConfig
            ? 'image'
            : 'artifact';
      }
      say(
        'INFO',
        `${p} ${digest} ${String(entry.mediaType)} kind=${kind}${configType === '' ? '' : ` config=${configType}`}`,
      );
      const copyAll = kind === 'index' ? ['--all'] : [];

      // oci-image-tool's --ref filter is broken in 1.0.0-rc1: give it a one-tag view instead.
      const one = join(tmp, `view${n}`);
      view(layout, one, {
        schemaVersion: 2,
        manifests: entries.filter((m) => m.annotations?.[REF_NAME] === tag),
      });
      if (kind === 'artifact')
        say(
          'SKIP',
          `${p} oci-image-tool validate: cannot validate OCI artifacts (config ${configType})`,
        );
      else {
        const v = run('oci-image-tool', ['validate', '--type', 'image', one]);
        if (v.ok) pass(`${p} oci-image-tool validate --type image (single-tag view)`);
        else fail(`${p} oci-image-tool validate --type image (single-tag view)`, v.output);
      }

      if (kind === 'image') {
        const stat = run('umoci', ['stat', '--image', `${layout}:${tag}`, '--json']);
        let history = false;
        try {
          history =
            (JSON.parse(stat.stdout.toString('utf8')) as { history?: unknown }).history !==
            undefined;
        } catch {
          history = false;
        }
        if (stat.ok && history) pass(`${p} umoci stat`);
        else fail(`${p} umoci stat`, stat.output);
        if (options.unpack ?? true) {
          const bundle = join(tmp, `bundle${n}`);
          const u = run('umoci', ['unpack', '--rootless', '--image', `${one}:${tag}`, bundle]);
          if (u.ok && existsSync(join(bundle, 'rootfs'))) pass(`${p} umoci unpack --rootless`);
          else fail(`${p} umoci unpack --rootless`, u.output);
          rmSync(bundle, { recursive: true, force: true });
        }
      } else
        say(
          'SKIP',
          `${p} umoci stat/unpack: umoci 0.4.7 reads only image manifests (kind=${kind})`,
        );

      const raw = skopeo('inspect', '--raw', `oci:${layout}:${tag}`);
      if (!raw.ok) fail(`${p} skopeo inspect --raw oci:...:${tag}`, raw.output);
      else if (sha256(raw.stdout) === digest)
        pass(`${p} skopeo inspect --raw: bytes hash to ${digest}`);
      else
        fail(`${p} skopeo inspect --raw returned ${sha256(raw.stdout)}, index.json says ${digest}`);
      if (kind === 'image') {
        const insp = skopeo('inspect', `oci:${layout}:${tag}`);
        let got = '';
        try {
          got = (JSON.parse(insp.stdout.toString('utf8')) as { Digest?: string }).Digest ?? '';
        } catch {
          got = '';
        }
        if (insp.ok && got === digest) pass(`${p} skopeo inspect (config parsed, Digest matches)`);
        else fail(`${p} skopeo inspect: Digest ${got}, want ${digest}`, insp.output);
      }

      if (archive !== undefined) {
        const ia = skopeo('inspect', '--raw', `oci-archive:${archive}:${tag}`);
        if (ia.ok && sha256(ia.stdout) === digest)
          pass(`${p} skopeo reads the input archive (oci-archive:${basename(archive)}:${tag})`);
        else fail(`${p} skopeo inspect --raw oci-archive:${basename(archive)}:${tag}`, ia.output);
      }
      const tarFile = join(tmp, `arch${n}.tar`);
      const back = join(tmp, `back${n}`);
      const a = skopeo(
        'copy',
        '-q',
        ...copyAll,
        '--preserve-digests',
        `oci:${layout}:${tag}`,
        `oci-archive:${tarFile}:${tag}`,
      );
      const b = a.ok
        ? skopeo(
            'copy',
            '-q',
            ...copyAll,
            '--preserve-digests',
            `oci-archive:${tarFile}:${tag}`,
            `oci:${back}:${tag}`,
          )
        : a;
      if (a.ok && b.ok) {
        const inTar = firstDigest(
          run('tar', ['-xOf', tarFile, 'index.json']).stdout.toString('utf8'),
        );
        const inBack = firstDigest(readFileSync(join(back, 'index.json'), 'utf8'));
        if (inTar === digest && inBack === digest)
          pass(`${p} skopeo copy oci -> oci-archive -> oci preserves ${digest}`);
        else
          fail(
            `${p} oci-archive round trip digests: archive ${inTar}, back ${inBack}, want ${digest}`,
          );
      } else
        fail(
          `${p} skopeo copy --preserve-digests oci -> oci-archive -> oci`,
          a.ok ? b.output : a.output,
        );
      rmSync(tarFile, { force: true });
      rmSync(back, { recursive: true, force: true });

      if (registry === undefined) {
        say(
          'SKIP',
          `${p} registry round trip (${useRegistry ? 'the registry did not start' : 'registry: false'})`,
        );
        rmSync(one, { recursive: true, force: true });
        continue;
      }
      const host = registry.host;
      const remoteTag = /^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$/.test(tag) ? tag : `t${n}`;
      const push = skopeo(
        'copy',
        '-q',
        ...copyAll,
        '--preserve-digests',
        '--dest-tls-verify=false',
        `oci:${layout}:${tag}`,
        `docker://${host}/${repo}:${remoteTag}`,
      );
      if (!push.ok)
        fail(
          `${p} skopeo copy --preserve-digests oci -> docker://${host}/${repo}:${remoteTag}`,
          push.output,
        );
      else {
        const head = await http('HEAD', `http://${host}/v2/${repo}/manifests/${remoteTag}`, {
          Accept: ACCEPT_ALL,
        });
        const served = String(head.headers['docker-content-digest'] ?? '');
        if (served === digest)
          pass(`${p} skopeo push to docker-registry: Docker-Content-Digest ${digest}`);
        else fail(`${p} registry digest ${served} (HTTP ${head.status}), want ${digest}`);
        const pulled = join(tmp, `reg${n}`);
        const pull = skopeo(
          'copy',
          '-q',
          ...copyAll,
          '--preserve-digests',
          '--src-tls-verify=false',
          `docker://${host}/${repo}:${remoteTag}`,
          `oci:${pulled}:${tag}`,
        );
        if (!pull.ok) fail(`${p} skopeo pull back from registry`, pull.output);
        else {
          const got = firstDigest(readFileSync(join(pulled, 'index.json'), 'utf8'));
          const problems = walkLayout(pulled).errors;
          if (got === digest && problems.length === 0)
            pass(`${p} skopeo pull back from registry: same digest, complete layout`);
          else
            fail(
              `${p} pulled back digest ${got}, want ${digest} (or incomplete layout)`,
              problems.join('\n'),
            );
        }
        rmSync(pulled, { recursive: true, force: true });
      }

      // This tag's referrers: each pushed by digest (a registry needs them before their fallback
      // index, whose children must exist), then that index with its exact bytes.
      const refs = listedReferrers({
        ...walk,
        referrers: { [digest]: walk.referrers[digest] ?? [] },
      });
      let k = 0;
      for (const ref of refs) {
        k++;
        const file = join(layout, 'blobs', ...ref.digest.split(':'));
        const bytes = readFileSync(file);
        const refView = join(tmp, `rview${n}-${k}`);
        view(layout, refView, {
          schemaVersion: 2,
          manifests: [
            {
              mediaType:
                (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType ??
                MEDIA.ociManifest,
              digest: ref.digest,
              size: bytes.length,
              annotations: { [REF_NAME]: 'r' },
            },
          ],
        });
        const up = skopeo(
          'copy',
          '-q',
          '--preserve-digests',
          '--dest-tls-verify=false',
          `oci:${refView}:r`,
          `docker://${host}/${repo}@${ref.digest}`,
        );
        const down = up.ok
          ? skopeo(
              'copy',
              '-q',
              '--preserve-digests',
              '--src-tls-verify=false',
              `docker://${host}/${repo}@${ref.digest}`,
              `oci:${refView}-back:r`,
            )
          : up;
        const got = down.ok
          ? firstDigest(readFileSync(join(`${refView}-back`, 'index.json'), 'utf8'))
          : '';
        if (up.ok && down.ok && got === ref.digest)
          pass(
            `${p} referrer ${ref.digest}: pushed by digest to the registry and pulled back unchanged`,
          );
        else
          fail(
            `${p} referrer ${ref.digest} registry round trip${down.ok ? `: pulled back ${got}` : ''}`,
            up.ok ? down.output : up.output,
          );
        rmSync(refView, { recursive: true, force: true });
        rmSync(`${refView}-back`, { recursive: true, force: true });
      }
      const fallbackTag = digest.replace(':', '-');
      const fallbackDigest = walk.tags[fallbackTag]?.[0];
      if (fallbackDigest !== undefined && refs.length > 0) {
        const bytes = readFileSync(join(layout, 'blobs', ...fallbackDigest.split(':')));
        const put = await http(
          'PUT',
          `http://${host}/v2/${repo}/manifests/${fallbackTag}`,
          { 'Content-Type': MEDIA.ociIndex },
          bytes,
        );
        const head = await http('HEAD', `http://${host}/v2/${repo}/manifests/${fallbackTag}`, {
          Accept: MEDIA.ociIndex,
        });
        const served = String(head.headers['docker-content-digest'] ?? '');
        if (put.status === 201 && served === fallbackDigest)
          pass(
            `${p} fallback tag ${fallbackTag}: exact index bytes accepted by the registry (${fallbackDigest})`,
          );
        else
          fail(
            `${p} fallback tag PUT: HTTP ${put.status}, digest ${served}, want ${fallbackDigest}`,
            put.body,
          );
      }
      if (refs.length > 0) {
        const api = await http('GET', `http://${host}/v2/${repo}/referrers/${digest}`);
        say(
          'INFO',
          `${p} GET /v2/${repo}/referrers/${digest} -> HTTP ${api.status} (without a referrers API a client must use the fallback tag)`,
        );
      }
      rmSync(one, { recursive: true, force: true });
    }
  } finally {
    await registry?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
  const count = (s: Status): number => lines.filter((l) => l.status === s).length;
  const verdict = {
    lines,
    passed: count('PASS'),
    failed: count('FAIL'),
    skipped: count('SKIP'),
    warnings: count('WARN'),
  };
  const report = [
    ...lines.map((l) => `${l.status.padEnd(5)} ${l.text}`),
    `interop: ${verdict.passed} passed, ${verdict.failed} failed, ${verdict.skipped} skipped, ${verdict.warnings} warnings (${input})`,
  ].join('\n');
  return { ...verdict, report };
}

interface IndexEntry {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}
/** index.json's entries, or none when it is unreadable (the structure check has failed then). */
function indexEntries(layout: string): IndexEntry[] {
  try {
    const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
      manifests?: unknown;
    };
    return Array.isArray(index.manifests) ? (index.manifests as IndexEntry[]) : [];
  } catch {
    return [];
  }
}

function firstDigest(indexJson: string): string {
  try {
    return (
      (JSON.parse(indexJson) as { manifests: { digest: string }[] }).manifests[0]?.digest ?? ''
    );
  } catch {
    return '';
  }
}
