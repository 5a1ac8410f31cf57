// fsck: check a layout and report every problem as data (Finding[]); never writes anything and
// never throws for a problem in the layout (only when the directory is not a layout at all).
// Severity decisions are in spec-notes/gc-fsck.md.
import { finding, type FindingCode } from './findings.js';
import { lstatSync, readdirSync, type Stats } from 'node:fs';
import { join, resolve } from 'node:path';
import { NotFoundError, isOcilayoutError } from '../errors.js';
import { Layout } from '../layout/layout.js';
import { MediaType } from '../media-types.js';
import { IMAGE_LAYOUT_VERSION, OciLayoutSchema, type IndexFile } from '../schema/layout-files.js';
import { parseJson } from '../schema/manifest.js';
import { IndexStore, readCappedText } from '../store/index-store.js';
import { LOCK_FUTURE_TOLERANCE_MS } from '../store/lock.js';
import { INDEX_FILE, INDEX_LOCK, OCI_LAYOUT_FILE } from '../store/paths.js';
import { listAbandoned, parkedByDeadGc } from './abandoned.js';
import { scanBlobFiles } from './blob-files.js';
import type { Finding, FsckCheck } from './policy.js';
import { checkReachable } from './reachability.js';
import { isHaulerIndex } from '../referrers/hauler-kind.js';

export interface FsckOptions {
  /** Extra checks (each referrer convention's bookkeeping); run when index.json is readable. */
  checks?: readonly FsckCheck[] | undefined;
  /** Report blobs missing from a sparse layout as warnings instead of errors. */
  allowMissing?: boolean | undefined;
}

export interface FsckReport {
  /** No finding of severity 'error'. */
  ok: boolean;
  findings: Finding[];
  checked: { blobs: number; bytes: number; descriptors: number };
}

/**
 * A lock directory nobody refreshed for this long belongs to a dead process: holders refresh it
 * every stale/4 (lock.ts), and the stale time is 10 s unless OCILAYOUT_LOCK_STALE_MS raises it.
 */
const LOCK_ABANDONED_MS = Math.max(60_000, Number(process.env['OCILAYOUT_LOCK_STALE_MS']) || 0);

/**
 * Check `target` (a Layout, or a directory path). Throws E_NOT_A_LAYOUT only when the directory
 * has neither `oci-layout` nor index.json; every other problem is a finding.
 */
export async function fsck(
  target: Layout | string,
  options: FsckOptions = {},
): Promise<FsckReport> {
  const root = typeof target === 'string' ? resolve(target) : target.root;
  assertLooksLikeLayout(root, typeof target === 'string' ? target : root);
  const { index, findings: indexFindings } = readIndex(root);
  const findings: Finding[] = checkHeader(root, index);
  findings.push(...indexFindings);
  const scan = await scanBlobFiles(root);
  findings.push(...scan.findings);
  let descriptors = 0;
  if (index !== undefined) {
    const layout = typeof target === 'string' ? tryOpen(root) : target;
    if (layout === undefined) {
      findings.push(
        finding(
          'CHECKS_SKIPPED',
          `reachability and plug-in checks skipped: ${OCI_LAYOUT_FILE} must be fixed first`,
          { path: OCI_LAYOUT_FILE },
        ),
      );
    } else {
      const reach = checkReachable(layout, index, {
        allowMissing: options.allowMissing === true,
        unusable: scan.unusable,
        parked: safeParked(root),
      });
      descriptors = reach.descriptors;
      findings.push(...reach.findings, ...runChecks(options.checks ?? [], layout, index));
    }
  }
  findings.push(...abandonedFindings(root), ...lockFindings(root));
  return {
    ok: !findings.some((f) => f.severity === 'error'),
    findings,
    checked: { blobs: scan.blobs, bytes: scan.bytes, descriptors },
  };
}

function assertLooksLikeLayout(root: string, shown: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(root);
  } catch {
    /* not a directory: handled below */
  }
  if (!names.includes(OCI_LAYOUT_FILE) && !names.includes(INDEX_FILE)) {
    throw new NotFoundError(
      'E_NOT_A_LAYOUT',
      `${shown} is not an OCI layout (no ${OCI_LAYOUT_FILE}, no ${INDEX_FILE})`,
      { layout: shown },
    );
  }
}

function checkHeader(root: string, index: IndexFile | undefined): Finding[] {
  const path = OCI_LAYOUT_FILE;
  const fail = (code: FindingCode, message: string): Finding[] => [
    finding(code, `${path}: ${message}`, { path }),
  ];
  let json: unknown;
  try {
    json = parseJson(readCappedText(join(root, path), 64 * 1024), path);
  } catch (err) {
    if (isOcilayoutError(err, 'E_NOT_FOUND')) {
      // hauler 2.x never writes one, and we read its store without it; tools that require it
      // (skopeo, umoci) do not, which `init` remedies.
      if (index !== undefined && isHaulerIndex(index)) {
        return fail(
          'HAULER_STORE_NO_OCI_LAYOUT',
          'missing, as in every hauler 2.x store; run `ocilayout init` on it to add one for tools that require it',
        );
      }
      return fail('LAYOUT_HEADER_MISSING', 'missing; every layout has one');
    }
    return fail('LAYOUT_HEADER_INVALID', errorText(err));
  }
  const header = OciLayoutSchema.safeParse(json);
  if (!header.success) return fail('LAYOUT_HEADER_INVALID', 'has no imageLayoutVersion string');
  if (header.data.imageLayoutVersion !== IMAGE_LAYOUT_VERSION) {
    return fail(
      'LAYOUT_VERSION_UNSUPPORTED',
      `imageLayoutVersion is ${JSON.stringify(header.data.imageLayoutVersion)}; only ${IMAGE_LAYOUT_VERSION} is defined`,
    );
  }
  return [];
}

const INDEX_CODES: Partial<Record<string, FindingCode>> = {
  E_NOT_FOUND: 'INDEX_MISSING',
  E_INVALID_JSON: 'INDEX_INVALID_JSON',
  E_SCHEMA: 'INDEX_SCHEMA',
  E_TOO_LARGE: 'INDEX_TOO_LARGE',
  E_UNSAFE_ENTRY: 'INDEX_NOT_REGULAR',
};

function readIndex(root: string): { index: IndexFile | undefined; findings: Finding[] } {
  let index: IndexFile;
  try {
    index = new IndexStore(root).read().index;
  } catch (err) {
    const code = (isOcilayoutError(err) ? INDEX_CODES[err.code] : undefined) ?? 'INDEX_UNREADABLE';
    return {
      index: undefined,
      findings: [finding(code, errorText(err), { path: INDEX_FILE })],
    };
  }
  const findings: Finding[] = [];
  if (index.mediaType !== undefined && index.mediaType !== MediaType.ImageIndex) {
    findings.push(
      finding(
        'INDEX_MEDIA_TYPE',
        `${INDEX_FILE} declares mediaType ${index.mediaType}; the layout spec expects ${MediaType.ImageIndex}`,
        { path: INDEX_FILE },
      ),
    );
  }
  return { index, findings };
}

function tryOpen(root: string): Layout | undefined {
  try {
    return Layout.open(root);
  } catch {
    return undefined;
  }
}

function runChecks(checks: readonly FsckCheck[], layout: Layout, index: IndexFile): Finding[] {
  const out: Finding[] = [];
  // One shared copy for all checks: checks are read-only, and may cache their analysis per index.
  const shared = structuredClone(index);
  for (const check of checks) {
    try {
      out.push(...check(layout, shared));
    } catch (err) {
      out.push(
        finding(
          'CHECK_FAILED',
          `fsck check ${check.name || '(anonymous)'} failed: ${errorText(err)}`,
        ),
      );
    }
  }
  return out;
}

/** Parked copies of a dead gc; none when ingest/ cannot be trusted (abandonedFindings says why). */
function safeParked(root: string): ReturnType<typeof parkedByDeadGc> {
  try {
    return parkedByDeadGc(root);
  } catch {
    return new Map();
  }
}

function abandonedFindings(root: string): Finding[] {
  let abandoned: ReturnType<typeof listAbandoned>;
  try {
    abandoned = listAbandoned(root);
  } catch (err) {
    // ingest/ is a symlink or not a directory (E_UNSAFE_ENTRY): writers and gc refuse this layout.
    return [
      finding(
        'INGEST_UNSAFE',
        `${errorText(err)}; writers and gc refuse this layout until it is a directory`,
        { path: 'ingest' },
      ),
    ];
  }
  return abandoned.map((f) =>
    finding(
      'INGEST_ABANDONED',
      f.kind === 'trash'
        ? `${f.path}: a blob parked by a gc that died (${f.size} bytes); gc puts it back if needed, else removes it`
        : `${f.path}: abandoned ${f.kind} file (${f.size} bytes) of a writer that is gone; gc removes it`,
      { path: f.path },
    ),
  );
}

function lockFindings(root: string, now = Date.now()): Finding[] {
  let st: Stats;
  try {
    st = lstatSync(join(root, INDEX_LOCK));
  } catch {
    return [];
  }
  if (!st.isDirectory()) {
    // Never made by us (the lock is a directory); writers refuse it with E_UNSAFE_ENTRY.
    const what = st.isSymbolicLink() ? 'a symlink' : 'not a directory';
    return [
      finding(
        'LOCK_NOT_DIRECTORY',
        `${INDEX_LOCK} is ${what}: it never goes stale, and every writer refuses this layout until it is removed`,
        { path: INDEX_LOCK },
      ),
    ];
  }
  const mtimeMs = st.mtimeMs;
  if (mtimeMs - now > LOCK_FUTURE_TOLERANCE_MS) {
    return [
      finding(
        'LOCK_IN_FUTURE',
        `${INDEX_LOCK} is dated ${Math.round((mtimeMs - now) / 1000)} s in the future (the clock was set back?): its age cannot be told from its date, so a writer takes it over only after seeing it unchanged for the stale time`,
        { path: INDEX_LOCK },
      ),
    ];
  }
  if (now - mtimeMs < LOCK_ABANDONED_MS) return [];
  return [
    finding(
      'LOCK_STALE',
      `${INDEX_LOCK} was last refreshed ${Math.round((now - mtimeMs) / 1000)} s ago: its holder died; the next writer takes it over`,
      { path: INDEX_LOCK },
    ),
  ];
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
