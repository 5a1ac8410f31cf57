// An esbuild plug-in shared by the two builds of the CLI (scripts/bundle-cli.mjs for dist/cli,
// scripts/package-sea.mjs for the single executable), and the check that it took effect.
import { readFileSync } from 'node:fs';

/**
 * string-width (yargs' help layout, three copies) builds an Intl.Segmenter and a /\p{RGI_Emoji}/v
 * regular expression when it loads: ~20 ms of every start-up (ICU data), for help text most runs
 * never render. Build them on first use instead. The bundle is checked afterwards, so a new version
 * of the package written differently fails the build rather than silently bringing the cost back.
 */
export const lazyStringWidth = {
  name: 'lazy-string-width',
  setup(b) {
    b.onLoad({ filter: /[\\/]node_modules[\\/]string-width[\\/]index\.js$/ }, (args) => {
      const text = readFileSync(args.path, 'utf8');
      const contents =
        'let __segmenter, __rgiEmoji;\n' +
        text
          .replaceAll(
            'new Intl.Segmenter()',
            () => '{ segment: (s) => (__segmenter ??= new Intl.Segmenter()).segment(s) }',
          )
          .replace(
            '/^\\p{RGI_Emoji}$/v',
            () => "{ test: (s) => (__rgiEmoji ??= new RegExp('^\\\\p{RGI_Emoji}$', 'v')).test(s) }",
          );
      return { contents, loader: 'js' };
    });
  },
};

/** Fails the build when the bundled text builds the segmenter or the emoji pattern at load time. */
export function assertLazyStringWidth(text, file) {
  const eager = [
    /(?<!\?\?= )new Intl\.Segmenter\(/,
    /(?<!\?\?= )new RegExp\("\^\\\\p\{RGI_Emoji\}/,
    /\/\^\\p\{RGI_Emoji\}\$\/v/,
  ].filter((re) => re.test(text));
  if (eager.length > 0)
    throw new Error(`${file}: built at load time again (${eager.join(', ')}); see lazyStringWidth`);
}
