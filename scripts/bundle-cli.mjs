#!/usr/bin/env node
// Build step after tsc: bundle the CLI (dist/cli/process.js and everything it imports, dependencies
// included) into one script, dist/cli/cli.bundle.js, which dist/cli/bin.js runs through a V8 code
// cache (src/cli/code-cache.ts). Loading ~110 of our modules plus zod's and yargs' through the ESM
// loader was most of the CLI's start-up (0.25 s -> 0.15 s, 70 -> 58 MiB), compiling the bundle most
// of the rest (spec-notes/performance.md, CLI start-up). The library entry (dist/index.js) stays
// unbundled for library users.
//
// The script is CommonJS wrapped in a function expression, as Node's CommonJS loader wraps a module:
// a vm.Script (the only code cache Node 20 has) evaluates to that function, and bin.js calls it.
import { build } from 'esbuild';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../dist/cli/process.js', import.meta.url));
const outfile = fileURLToPath(new URL('../dist/cli/cli.bundle.js', import.meta.url));
const bin = fileURLToPath(new URL('../dist/cli/bin.js', import.meta.url));

/**
 * string-width (yargs' help layout, three copies) builds an Intl.Segmenter and a /\p{RGI_Emoji}/v
 * regular expression when it loads: ~20 ms of every start-up (ICU data), for help text most runs
 * never render. Build them on first use instead. The bundle is checked afterwards, so a new version
 * of the package written differently fails the build rather than silently bringing the cost back.
 */
const lazyStringWidth = {
  name: 'lazy-string-width',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]string-width[\\/]index\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const contents =
        'let __segmenter, __rgiEmoji;\n' +
        lazyPropertyRegexes(
          text
            .replaceAll(
              'new Intl.Segmenter()',
              () => '{ segment: (s) => (__segmenter ??= new Intl.Segmenter()).segment(s) }',
            )
            .replace(
              '/^\\p{RGI_Emoji}$/v',
              () =>
                "{ test: (s) => (__rgiEmoji ??= new RegExp('^\\\\p{RGI_Emoji}$', 'v')).test(s) }",
            ),
        );
      return { contents, loader: 'js' };
    });
  },
};

/**
 * Every other module-level `const NAME = /...\\p{...}.../flags;` of string-width (Unicode property
 * classes, compiled from ICU data at load: start-up work for help text most runs never render),
 * made on first use instead: the declaration goes, and each use of NAME reads
 * `(__lazy_NAME ??= /.../flags)`, the same one object from then on.
 */
function lazyPropertyRegexes(text) {
  const decls = [...text.matchAll(/^const (\w+) = (\/.*\\p\{.*\/[a-z]*);\n/gm)];
  let out = text;
  for (const [line, name, literal] of decls) {
    out = out
      .replace(line, () => `let __lazy_${name};\n`)
      .replace(
        new RegExp(`(?<![\\w$.])${name}(?![\\w$])`, 'g'),
        () => `(__lazy_${name} ??= ${literal})`,
      );
  }
  return out;
}

await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
  plugins: [lazyStringWidth],
  // ESM dependencies (yargs) read import.meta, which a script lacks: bin.js passes the bundle's URL.
  define: { 'import.meta.url': '__importMetaUrl', 'import.meta.resolve': '__importMetaResolve' },
  banner: {
    js: '(function (exports, require, module, __filename, __dirname, __importMetaUrl, __importMetaResolve) {',
  },
  footer: { js: '})' },
});
// esbuild escapes non-ASCII characters in strings, but not in the comments it keeps; escaped there
// too, the script is ASCII, which bin.js decodes as latin1, 3x faster than utf8 (src/cli/code-cache.ts).
// An escape means the same character in a string, regular expression or template, so this is safe
// wherever else one might be.
const text = readFileSync(outfile, 'utf8').replace(
  /[^\x00-\x7f]/g,
  (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
);
writeFileSync(outfile, text);
const eager = [
  /(?<!\?\?= )new Intl\.Segmenter\(/,
  /(?<!\?\?= )new RegExp\("\^\\\\p\{RGI_Emoji\}/,
  /\/\^\\p\{RGI_Emoji\}\$\/v/,
].filter((re) => re.test(text));
// lazyPropertyRegexes: a Unicode property class built at the top level of a string-width copy.
for (const section of text.split(/^(?=\/\/ \S)/m)) {
  if (!/^\/\/ \S*[\\/]string-width[\\/]index\.js$/m.test(section.slice(0, section.indexOf('\n'))))
    continue;
  const m = /^var \w+ = (new RegExp\(".*\\\\p\{|\/.*\\p\{).*$/m.exec(section);
  if (m !== null) eager.push(m[0]);
}
if (eager.length > 0)
  throw new Error(
    `${outfile}: built at load time again (${eager.join(', ')}); see lazyStringWidth`,
  );
chmodSync(bin, 0o755);
