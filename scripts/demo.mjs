#!/usr/bin/env node
// `npm run demo`: ocilayout's main job on a bundled sample, printed step by step.
// Takes the image umoci wrote (testdata/peers/umoci-image), copies it into a temp workspace, and runs the
// built CLI (dist/, made by `npm install`) over it. Each step prints its command and output; the first
// failing step stops the demo with exit status 1. Needs only Node (no peer tools, no network).
// Usage: node scripts/demo.mjs [--keep]   (--keep leaves the workspace in place and prints its path)
//
// To extend: add an entry to STEPS. `cli(title, (w) => [args...], { save, check })` runs `ocilayout args`;
// `save` stores its trimmed stdout in w.saved[name] for later steps; `check(stdout, w)` returns an error
// message (string) when the output is wrong. `js(title, shown, (w) => {...})` runs a local action.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = join(ROOT, 'dist', 'cli', 'bin.js');
const SAMPLE = join(ROOT, 'testdata', 'peers', 'umoci-image');
const keep = process.argv.includes('--keep');

const cli = (title, args, options = {}) => ({ kind: 'cli', title, args, ...options });
const js = (title, shown, action) => ({ kind: 'js', title, shown, action });
const isDigest = (out) =>
  /^sha256:[0-9a-f]{64}$/.test(out.trim()) ? undefined : 'expected a sha256 digest';
const mentions =
  (...words) =>
  (out) => {
    const missing = words.filter((w) => !out.includes(w));
    return missing.length === 0 ? undefined : `output does not mention ${missing.join(', ')}`;
  };

// ---- The steps. Keep them in the order a user would run them. -----------------------------------
const STEPS = [
  js(
    'Take the bundled sample: an image layout written by umoci 0.4.7',
    (w) => `cp -r testdata/peers/umoci-image ${w.layout}`,
    (w) => cpSync(SAMPLE, w.layout, { recursive: true }),
  ),
  cli('Summarise it', (w) => ['info', w.layout]),
  cli('List its tags', (w) => ['tags', w.layout], { check: mentions('v1', 'latest') }),
  cli('Resolve v1 to the image manifest digest', (w) => ['resolve', `${w.layout}:v1`], {
    save: 'image',
    check: isDigest,
  }),
  js(
    'Write a signature and an SBOM for that image',
    (w) => `write ${w.files}/{signature.json,sbom.spdx.json,scratch.txt}`,
    (w) => {
      writeFileSync(
        join(w.files, 'signature.json'),
        JSON.stringify({ critical: { image: { 'docker-manifest-digest': w.saved.image } } }),
      );
      writeFileSync(
        join(w.files, 'sbom.spdx.json'),
        JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'demo', packages: [] }),
      );
      writeFileSync(join(w.files, 'scratch.txt'), 'a throwaway file\n');
    },
  ),
  cli(
    'Attach the signature to v1 (an OCI 1.1 artifact whose subject is the image)',
    (w) => [
      'attach',
      `${w.layout}:v1`,
      join(w.files, 'signature.json') + ':application/vnd.example.signature.v1+json',
      '--artifact-type',
      'application/vnd.example.signature.v1+json',
    ],
    { save: 'signature', check: isDigest },
  ),
  cli(
    'Attach the SBOM to v1',
    (w) => [
      'attach',
      `${w.layout}:v1`,
      join(w.files, 'sbom.spdx.json') + ':application/spdx+json',
      '--artifact-type',
      'application/spdx+json',
    ],
    { save: 'sbom', check: isDigest },
  ),
  cli('Discover the referrers of v1', (w) => ['discover', `${w.layout}:v1`], {
    check: (out, w) => mentions(w.saved.signature, w.saved.sbom)(out),
  }),
  cli(
    'Only the SBOMs',
    (w) => ['discover', `${w.layout}:v1`, '--artifact-type', 'application/spdx+json'],
    {
      check: (out, w) =>
        out.includes(w.saved.signature)
          ? 'the signature is listed too'
          : mentions(w.saved.sbom)(out),
    },
  ),
  cli('Tag the image as release', (w) => ['tag', `${w.layout}:v1`, 'release']),
  cli('List tags', (w) => ['tags', w.layout], { check: mentions('latest', 'release', 'v1') }),
  cli(
    'Show the SBOM manifest (note its subject)',
    (w) => ['manifest', 'get', `${w.layout}@${w.saved.sbom}`],
    { check: (out, w) => mentions('"subject"', w.saved.image)(out) },
  ),
  cli('Pull the SBOM back out as a file, verified', (w) => [
    'pull',
    `${w.layout}@${w.saved.sbom}`,
    '-o',
    join(w.root, 'pulled'),
  ]),
  cli('Convert the referrers to the fallback-tag convention (what regctl writes)', (w) => [
    'convert',
    w.layout,
    '--to',
    'fallback-tag',
  ]),
  cli(
    'The fallback tag is there (hidden from `tags` unless --all)',
    (w) => ['tags', '--all', w.layout],
    { check: (out, w) => mentions(w.saved.image.replace(':', '-'))(out) },
  ),
  cli('Discover still finds both', (w) => ['discover', `${w.layout}:v1`], {
    check: (out, w) => mentions(w.saved.signature, w.saved.sbom)(out),
  }),
  cli('Convert to the subject-annotation convention (olareg / image-spec PR #1171)', (w) => [
    'convert',
    w.layout,
    '--to',
    'subject-annotation',
  ]),
  cli('Discover again: same referrers', (w) => ['discover', `${w.layout}:v1`], {
    check: (out, w) => mentions(w.saved.signature, w.saved.sbom)(out),
  }),
  cli('Copy release with its referrers into a second layout', (w) => [
    'copy',
    '--referrers',
    `${w.layout}:release`,
    `${join(w.root, 'copy')}:v1`,
  ]),
  cli('Discover there', (w) => ['discover', `${join(w.root, 'copy')}:v1`], {
    check: (out, w) => mentions(w.saved.signature, w.saved.sbom)(out),
  }),
  cli('Export release and its referrers as an oci-archive tar', (w) => [
    'export',
    w.layout,
    join(w.root, 'release.tar'),
    '--ref',
    'release',
    '--referrers',
  ]),
  cli('Import the archive into a new layout elsewhere', (w) => [
    'import',
    join(w.root, 'release.tar'),
    join(w.root, 'imported'),
  ]),
  cli(
    'The imported layout resolves release to the same image',
    (w) => ['resolve', `${join(w.root, 'imported')}:release`],
    { check: (out, w) => (out.trim() === w.saved.image ? undefined : `expected ${w.saved.image}`) },
  ),
  cli(
    '...with its signature and SBOM',
    (w) => ['discover', `${join(w.root, 'imported')}:release`],
    {
      check: (out, w) => mentions(w.saved.signature, w.saved.sbom)(out),
    },
  ),
  cli('Check the imported layout: every blob, descriptor and document', (w) => [
    'fsck',
    join(w.root, 'imported'),
  ]),
  cli('Push a scratch artifact (it will become garbage)', (w) => [
    'push',
    `${w.layout}:scratch`,
    join(w.files, 'scratch.txt') + ':text/plain',
  ]),
  cli('Untag scratch', (w) => ['untag', `${w.layout}:scratch`]),
  cli('See what gc would remove', (w) => ['gc', '--dry-run', w.layout]),
  cli('Collect the garbage (referrers are roots: they stay)', (w) => ['gc', w.layout]),
  cli('The signature and SBOM survived gc', (w) => ['discover', `${w.layout}:v1`], {
    check: (out, w) => mentions(w.saved.signature, w.saved.sbom)(out),
  }),
  cli('Check the layout after all this', (w) => ['fsck', w.layout]),
  cli('Summarise it', (w) => ['info', w.layout]),
];

// ---- Runner --------------------------------------------------------------------------------------
function main() {
  if (!existsSync(BIN)) {
    console.error(`demo: ${BIN} is missing; run \`npm install\` (it builds) or \`npm run build\``);
    return 1;
  }
  const root = mkdtempSync(join(tmpdir(), 'ocilayout-demo-'));
  const w = { root, layout: join(root, 'layout'), files: root, saved: {} };
  console.log(`ocilayout demo — workspace ${root}\n`);
  let n = 0;
  try {
    for (const s of STEPS) {
      n += 1;
      console.log(`## ${n}. ${s.title}`);
      const error = s.kind === 'js' ? runJs(s, w) : runCli(s, w);
      if (error !== undefined) {
        console.error(`\ndemo FAILED at step ${n} (${s.title}): ${error}`);
        return 1;
      }
      console.log('');
    }
    console.log(`demo: all ${n} steps passed.`);
    return 0;
  } finally {
    if (keep) console.log(`workspace kept: ${root}`);
    else rmSync(root, { recursive: true, force: true });
  }
}

function runJs(s, w) {
  console.log(`$ ${s.shown(w)}`);
  try {
    s.action(w);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

function runCli(s, w) {
  const args = s.args(w);
  console.log(`$ ocilayout ${args.map(quote).join(' ')}`);
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8' });
  const show = (text) => {
    if (text.trim() !== '') console.log(text.replace(/\n$/, '').replace(/^/gm, '  '));
  };
  show(r.stdout);
  show(r.stderr);
  if (r.error) return r.error.message;
  if (r.status !== 0) return `exit status ${r.status}`;
  if (s.save !== undefined) w.saved[s.save] = r.stdout.trim();
  return s.check?.(r.stdout, w);
}

function quote(arg) {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

process.exitCode = main();
