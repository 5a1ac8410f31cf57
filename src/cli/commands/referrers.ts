// `attach`, `discover`, `detach`, `convert`: referrers in every layout convention. Parsing and
// printing only; every decision is the library's (src/referrers/).
import {
  Annotation,
  CONVENTION_NAMES,
  Layout,
  UsageError,
  attach,
  convert,
  detach,
  isRegistryRef,
  openRemoteReferrers,
  remoteReferrerTree,
  remoteReferrersResponseTree,
  parseCosignTag,
  parseDigest,
  parseLayoutRef,
  referrerGraph,
  referrerTree,
  referrersResponseTree,
  type ConvertPlan,
  type Descriptor,
  type ReferrerNode,
  type ReferrerSummary,
} from '../../internal.js';
import { layoutOptions, type RegisterCommands } from '../context.js';
import {
  parseAnnotations,
  parseDigestRef,
  parseFileArg,
  remoteReadOptions,
  stringList,
  targetOf,
  withArtifactFiles,
  withPlainHttp,
} from '../options.js';
import { renderTree, type TreeNode } from '../render/tree.js';

const CONVENTION_CHOICES = [...CONVENTION_NAMES, 'auto'] as const;

export const registerReferrers: RegisterCommands = (y, ctx) =>
  y
    .command(
      'attach <ref> [files..]',
      'attach files to an image as an OCI 1.1 artifact with subject, recorded in the layout’s referrer convention',
      (c) =>
        withArtifactFiles(
          c.positional('ref', {
            type: 'string',
            demandOption: true,
            describe: 'LAYOUT:TAG or LAYOUT@DIGEST (the subject)',
          }),
        )
          .option('artifact-type', {
            type: 'string',
            demandOption: true,
            describe: 'artifactType of the referrer',
          })
          .option('convention', {
            choices: CONVENTION_CHOICES,
            default: 'auto' as const,
            describe: 'where to record it; auto keeps what the layout uses (per-manifest if none)',
          })
          .option('olareg-keys', {
            type: 'boolean',
            describe:
              'subject-annotation: write org.olareg.referrer.subject (default: the PR #1171 key)',
          })
          .example(
            '$0 attach ./out:v1 sig.json:application/json --artifact-type application/vnd.example.sig',
            'sign v1',
          )
          .example(
            '$0 attach ./out@sha256:<sbom> sig.json --artifact-type application/vnd.example.sig',
            'sign a referrer',
          )
          .example(
            '$0 attach ./out:v1 sbom.json --artifact-type application/spdx+json --convention fallback-tag',
            'regctl-compatible',
          ),
      async (argv) => {
        const ref = parseLayoutRef(argv.ref);
        const layout = Layout.open(ref.layout, layoutOptions(argv));
        const r = await attach(
          layout,
          targetOf(ref),
          argv.files.map((f) => parseFileArg(f)),
          {
            artifactType: argv['artifact-type'],
            annotations: parseAnnotations(stringList(argv.annotation)),
            convention: argv.convention,
            olaregKeys: argv['olareg-keys'],
          },
        );
        ctx.out.info(
          r.changed
            ? `attached to ${r.subject.digest} (${r.conventions.join(', ')})`
            : `already attached to ${r.subject.digest}; nothing changed`,
        );
        ctx.out.result(r.descriptor, () => r.descriptor.digest);
      },
    )
    .command(
      'discover <ref>',
      'list the referrers of an image, found in every convention at once',
      (c) =>
        withPlainHttp(c)
          .positional('ref', {
            type: 'string',
            demandOption: true,
            describe: 'LAYOUT:TAG, LAYOUT@DIGEST or docker://HOST/REPO[:TAG|@DIGEST] (the subject)',
          })
          .option('artifact-type', {
            type: 'string',
            describe: 'only referrers of this artifactType',
          })
          .option('depth', {
            type: 'number',
            describe:
              'levels of referrers of referrers (default: all in the tree; 1 with --json, the flat response)',
          })
          .option('scan-blobs', {
            type: 'boolean',
            default: false,
            describe: 'also read unlisted manifests in blobs/ (cosign load leaves them)',
          })
          .example('$0 discover ./out:v1', 'tree of referrers, with their referrers')
          .example('$0 discover ./out:v1 --json', 'the referrers API response (an image index)')
          .example(
            '$0 discover ./out:v1 --json --depth 2',
            'the same, each referrer with its own `referrers`',
          )
          .example(
            '$0 discover ./out:v1 --artifact-type application/spdx+json --depth 1',
            'SBOMs only',
          )
          .example('$0 discover docker://127.0.0.1:5000/app:v1', 'referrers on a registry'),
      async (argv) => {
        if (argv.depth !== undefined && (!Number.isInteger(argv.depth) || argv.depth < 1)) {
          throw new UsageError('E_USAGE', `--depth must be a whole number ≥ 1, got ${argv.depth}`);
        }
        const at = argv['artifact-type'];
        if (isRegistryRef(argv.ref)) {
          // The registry has no blobs/ to scan: its referrers API (or fallback tag) is the record.
          const d = await openRemoteReferrers(argv.ref, remoteReadOptions(argv, ctx));
          for (const w of d.warnings) ctx.out.warn(w);
          if (argv.json) {
            const depth = argv.depth ?? 1;
            ctx.out.data(await remoteReferrersResponseTree(d, { depth, artifactType: at }));
            return;
          }
          const nodes = await remoteReferrerTree(d, { depth: argv.depth, artifactType: at });
          const label = d.tag === undefined ? d.subject : `${d.subject} (${d.tag})`;
          ctx.out.lines(renderTree({ label, children: nodes.map(treeNode) }));
          if (nodes.length === 0) ctx.out.info('no referrers');
          return;
        }
        const ref = parseLayoutRef(argv.ref);
        const layout = Layout.open(ref.layout, layoutOptions(argv));
        // A digest may name a subject that is not in the layout (its referrers may still be).
        const subject = ref.digest ?? parseDigest(layout.resolve(targetOf(ref)).digest);
        const graph = referrerGraph(layout, { scanBlobs: argv['scan-blobs'] });
        if (argv.json) {
          // Depth 1 (the default) is the flat referrers response, unchanged; deeper levels nest.
          const depth = argv.depth ?? 1;
          ctx.out.data(referrersResponseTree(graph, subject, { depth, artifactType: at }));
          return;
        }
        const nodes = referrerTree(graph, subject, { depth: argv.depth, artifactType: at });
        const label = ref.tag === undefined ? subject : `${subject} (${ref.tag})`;
        ctx.out.lines(renderTree({ label, children: nodes.map(treeNode) }));
        if (nodes.length === 0) ctx.out.info('no referrers');
      },
    )
    .command(
      'detach <ref>',
      'stop recording a referrer in every convention; its blobs go at the next gc',
      (c) =>
        c
          .positional('ref', {
            type: 'string',
            demandOption: true,
            describe:
              "LAYOUT@DIGEST of the referrer, or LAYOUT:TAG of one of cosign's sha256-<hex>.sig/.att/.sbom tags",
          })
          .example('$0 detach ./out@sha256:<sig>', 'remove a signature')
          .example(
            '$0 detach ./out:sha256-<image>.sig',
            "remove cosign's signature tag of an image",
          ),
      async (argv) => {
        const parsed = parseLayoutRef(argv.ref);
        // A cosign tag names its signature; any other tag is no way to name a referrer.
        const cosignTag =
          parsed.tag !== undefined && parseCosignTag(parsed.tag) !== undefined
            ? parsed.tag
            : undefined;
        const target = cosignTag ?? parseDigestRef(argv.ref).digest;
        const layout = Layout.open(parsed.layout, layoutOptions(argv));
        const r = await detach(layout, target);
        if (r.stillFoundVia.length > 0) {
          ctx.out.warn(
            `${r.digest} is still found via ${r.stillFoundVia.join(', ')} (another index lists it; not rewritten)`,
          );
        }
        ctx.out.result(r, () =>
          r.changed
            ? `detached ${r.digest}${r.conventions.length > 0 ? ` from ${r.conventions.join(', ')}` : ''}${r.entriesRemoved > 0 ? `; removed ${r.entriesRemoved} own entr${r.entriesRemoved === 1 ? 'y' : 'ies'}` : ''}${r.cosignTags.length > 0 ? ` (cosign tag${r.cosignTags.length === 1 ? '' : 's'} ${r.cosignTags.join(', ')})` : ''}`
            : `${r.digest} was not recorded anywhere; nothing changed`,
        );
      },
    )
    .command(
      'convert <layout>',
      'rewrite every referrer into one convention in one atomic commit (lossless, deterministic)',
      (c) =>
        c
          .positional('layout', {
            type: 'string',
            demandOption: true,
            describe: 'layout directory',
          })
          .option('to', {
            choices: CONVENTION_NAMES,
            demandOption: true,
            describe: 'target convention',
          })
          .option('dry-run', {
            type: 'boolean',
            default: false,
            describe: 'print the plan; change nothing',
          })
          .option('adopt-unlisted', {
            type: 'boolean',
            default: false,
            describe: 'also record referrers found only in blobs/ (a blob scan)',
          })
          .option('olareg-keys', {
            type: 'boolean',
            describe: 'subject-annotation: write org.olareg.referrer.subject',
          })
          .example('$0 convert ./out --to per-manifest', 'oras/containerd shape')
          .example('$0 convert ./out --to fallback-tag --dry-run', 'what would change'),
      async (argv) => {
        const layout = Layout.open(argv.layout, layoutOptions(argv));
        const plan = await convert(layout, argv.to, {
          dryRun: argv['dry-run'],
          adoptUnlisted: argv['adopt-unlisted'],
          olaregKeys: argv['olareg-keys'],
        });
        for (const d of plan.dropped) {
          ctx.out.warn(
            `not carried over: ${d.digest} listed by ${d.convention} ${d.listedIn}: ${d.reason}`,
          );
        }
        ctx.out.result(plan, () => renderPlan(plan));
      },
    );

function treeNode(n: ReferrerNode): TreeNode {
  const d = n.descriptor;
  const marks = [
    ...(n.buildkit ? [n.legacy ? 'buildkit attestation, no subject' : 'buildkit attestation'] : []),
    ...n.sources.filter((s) => !(n.legacy && s === 'nested')),
  ];
  const annotations = Object.entries(d.annotations ?? {}).map(([k, v]) => ({
    label: `${k}: ${v}`,
    children: [],
  }));
  return {
    label: `${d.artifactType ?? d.mediaType} ${d.digest}${marks.length > 0 ? ` [${marks.join(', ')}]` : ''}`,
    children: [...annotations, ...n.referrers.map(treeNode)],
  };
}

function entryLabel(e: Descriptor): string {
  const a = e.annotations ?? {};
  const name =
    a[Annotation.RefName] ??
    (a[Annotation.ReferrerSubject] !== undefined ||
    a[Annotation.OlaregReferrerSubject] !== undefined
      ? 'referrers response'
      : (e.artifactType ?? e.mediaType));
  return `${e.digest} (${name})`;
}

function renderPlan(p: ConvertPlan): string[] {
  const would = p.dryRun ? 'would ' : '';
  if (!p.changed) {
    return [
      `already ${p.to}: ${p.subjects} subject(s), ${p.referrers} referrer(s); nothing to change`,
    ];
  }
  const lines = [
    `${p.dryRun ? 'would convert' : 'converted'} ${p.from.join(' + ') || 'nothing'} → ${p.to}: ${p.subjects} subject(s), ${p.referrers} referrer(s)`,
  ];
  for (const e of p.removed) lines.push(`  - ${entryLabel(e)}`);
  for (const e of p.added) lines.push(`  + ${entryLabel(e)}`);
  if (p.adopted.length > 0) lines.push(`${would}adopt ${p.adopted.length} unlisted referrer(s)`);
  return lines;
}

/** Lines `info` adds for referrers (per-convention counts). */
export function renderReferrerSummary(s: ReferrerSummary): string[] {
  const used = s.inUse.map((n) => {
    const c = s.conventions[n];
    return `${n} ${c.entries} entr${c.entries === 1 ? 'y' : 'ies'}/${c.subjects} subject(s)/${c.referrers} referrer(s)`;
  });
  const lines = [
    `referrers:     ${s.referrers} of ${s.subjects} subject(s)${used.length > 0 ? `; ${used.join('; ')}` : ''}`,
  ];
  const extra: string[] = [];
  if (s.nestedOnly > 0) extra.push(`${s.nestedOnly} only nested in an index`);
  if (s.cosignTagged > 0) extra.push(`${s.cosignTagged} only by cosign tag`);
  if (s.haulerKind > 0) extra.push(`${s.haulerKind} only by hauler's kind`);
  if (s.legacyAttestations > 0)
    extra.push(`${s.legacyAttestations} BuildKit attestation(s) without subject`);
  if (s.problems > 0)
    extra.push(
      `${s.problems} unreadable bookkeeping entr${s.problems === 1 ? 'y' : 'ies'} (run fsck)`,
    );
  if (extra.length > 0) lines.push(`               ${extra.join('; ')}`);
  return lines;
}
