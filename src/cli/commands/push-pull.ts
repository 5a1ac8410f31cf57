// `push` (files → a tagged OCI 1.1 artifact) and `pull` (titled layers → files in a directory).
import { Layout, UsageError, parseLayoutRef, pullFiles, pushFiles } from '../../internal.js';
import { layoutOptions, type RegisterCommands } from '../context.js';
import {
  noClobber,
  parseAnnotations,
  parseFileArg,
  stringList,
  targetOf,
  warnTagMoved,
  withArtifactFiles,
  withClobber,
} from '../options.js';
import { progressReporter } from '../progress.js';

export const registerPushPull: RegisterCommands = (y, ctx) =>
  y
    .command(
      'push <ref> [files..]',
      'store files as an OCI 1.1 artifact and tag it (creates the layout if needed)',
      (c) =>
        withClobber(
          withArtifactFiles(
            c.positional('ref', { type: 'string', demandOption: true, describe: 'LAYOUT[:TAG]' }),
          ),
        )
          .option('artifact-type', {
            type: 'string',
            describe: 'artifactType (default application/vnd.unknown.artifact.v1)',
          })
          .option('config', { type: 'string', describe: 'config blob FILE[:MEDIATYPE]' })
          .example(
            '$0 push ./out:v1 sbom.json:application/spdx+json',
            'one file, with a media type',
          )
          .example(
            '$0 push ./out:v1 a.bin --artifact-type application/vnd.example',
            'set artifactType',
          )
          .example('$0 push ./out:docs README.md LICENSE --annotation team=infra', 'two files')
          .example('$0 push -n ./out:v1 a.bin', 'refuse if v1 already names other content'),
      async (argv) => {
        const ref = parseLayoutRef(argv.ref);
        if (ref.digest !== undefined) {
          throw new UsageError('E_INVALID_REFERENCE', 'push needs LAYOUT[:TAG], not a digest', {
            reference: argv.ref,
          });
        }
        const files = argv.files.map((f) => parseFileArg(f));
        const annotations = parseAnnotations(stringList(argv.annotation));
        const config = argv.config === undefined ? undefined : parseFileArg(argv.config);
        const init = Layout.init(ref.layout, layoutOptions(argv));
        const { layout, created } = init;
        if (created) ctx.out.info(`created layout ${layout.root}`);
        let pushed;
        const progress = progressReporter(ctx, 'push');
        try {
          pushed = await pushFiles(layout, files, {
            tag: ref.tag,
            artifactType: argv['artifact-type'],
            annotations,
            config,
            noClobber: noClobber(argv),
            onTagMoved: warnTagMoved(ctx, layout),
            onProgress: (done, total) => progress.update(done, total),
          });
        } catch (err) {
          progress.finish();
          // A push that fails (a full disk) takes back the layout it created, when nothing is in it.
          if (created) await init.undo().catch(() => false);
          throw err;
        }
        progress.finish();
        const { descriptor } = pushed;
        ctx.out.result(descriptor, () => descriptor.digest);
      },
    )
    .command(
      'pull <ref>',
      'write the titled layers of an artifact or image into a directory, verified',
      (c) =>
        c
          .positional('ref', {
            type: 'string',
            demandOption: true,
            describe: 'LAYOUT:TAG, LAYOUT@DIGEST, or LAYOUT when it holds one entry',
          })
          .option('output', {
            alias: 'o',
            type: 'string',
            demandOption: true,
            describe: 'directory to write into (created if missing)',
          })
          .option('platform', {
            type: 'string',
            describe: 'for an image index: the child for os/arch[/variant]',
          })
          .example('$0 pull ./out:v1 -o ./files', 'write each titled layer to ./files/<title>')
          .example('$0 pull ./out:multi --platform linux/arm64 -o ./files', 'pick from an index'),
      async (argv) => {
        const ref = parseLayoutRef(argv.ref);
        const layout = Layout.open(ref.layout, layoutOptions(argv));
        const progress = progressReporter(ctx, 'pull');
        let result;
        try {
          result = await pullFiles(layout, targetOf(ref), argv.output, {
            platform: argv.platform,
            onProgress: (done, total) => progress.update(done, total),
          });
        } finally {
          progress.finish();
        }
        if (result.skipped.length > 0) {
          ctx.out.info(`skipped ${result.skipped.length} layer(s) without a title annotation`);
        }
        if (result.files.length === 0) ctx.out.warn('no layer has a title; nothing written');
        ctx.out.result(result, () => result.files.map((f) => f.path));
      },
    );
