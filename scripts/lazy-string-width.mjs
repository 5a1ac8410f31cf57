// An esbuild plug-in shared by the two builds of the CLI (scripts/bundle-cli.mjs for dist/cli,
// scripts/package-sea.mjs for the single executable), and the check that it took effect.
import { readFileSync } from 'node:fs';

/**
 * string-width (yargs' help layout, three copies) builds an Intl.Segmenter and a /\p{RGI_Emoji}/v
 * regular expression when it loads: ICU data read on every start-up (spec-notes/performance.md has
 * the profile), for help text most runs never render. Build them on first use instead. The bundle
 * is checked afterwards, so a new version of the package written differently fails the build
 * rather than silently bringing the cost back.
 */
export const lazyStringWidth = {
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

/** Fails the build when the bundled text builds the segmenter or a Unicode property class at load time. */
export function assertLazyStringWidth(text, file) {
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
    throw new Error(`${file}: built at load time again (${eager.join(', ')}); see lazyStringWidth`);
}
