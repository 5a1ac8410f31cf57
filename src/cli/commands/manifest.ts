// `manifest get|put|delete`: manifests and indexes as exact bytes.
import {
  IntegrityError,
  Layout,
  MAX_MANIFEST_BYTES,
  assertMediaType,
  deleteManifest,
  digestOf,
  algorithmOf,
  isRegistryRef,
  remoteManifest,
  parseLayoutRef,
  parseLayoutRefWithTarget,
  writeFileAtomic,
  type Descriptor,
} from '../../internal.js';
import { layoutOptions, type GlobalArgs, type RegisterCommands } from '../context.js';
import {
  fileOrStdin,
  noClobber,
  readInputCapped,
  remoteReadOptions,
  targetOf,
  withPlainHttp,
  warnTagMoved,
  withClobber,
} from '../options.js';

export const registerManifest: RegisterCommands = (y, ctx) =>
  y.command('manifest', 'get, put or delete a manifest or index', (m) =>
    m
      .command(
        'get <ref>',
        'print a manifest’s exact bytes (or write them to -o FILE)',
        (c) =>
          withPlainHttp(c)
            .positional('ref', {
              type: 'string',
              demandOption: true,
              describe:
                'LAYOUT:TAG, LAYOUT@DIGEST, LAYOUT when it holds one entry, or docker://HOST/REPO[:TAG|@DIGEST]',
            })
            .option('output', { alias: 'o', type: 'string', describe: 'write to FILE atomically' })
            .example('$0 manifest get ./out:v1 | jq .layers', 'inspect the layers')
            .example('$0 manifest get ./out:v1 --json', 'descriptor and parsed document')
            .example(
              '$0 manifest get docker://127.0.0.1:5000/app:v1',
              'the exact bytes a registry serves, verified',
            ),
        async (argv) => {
          const { descriptor, bytes } = isRegistryRef(argv.ref)
            ? await remoteManifest(argv.ref, remoteReadOptions(argv, ctx))
            : getLayoutManifest(argv.ref, argv);
          if (argv.output !== undefined) {
            const written = await writeFileAtomic(argv.output, [bytes]);
            ctx.out.info(`wrote ${written.size} bytes to ${written.path}`);
            if (ctx.out.json) ctx.out.data({ descriptor, path: written.path });
          } else if (ctx.out.json) {
            ctx.out.data({ descriptor, manifest: JSON.parse(bytes.toString('utf8')) as unknown });
          } else {
            ctx.io.stdout.write(bytes);
          }
        },
      )
      .command(
        'put <ref> <file>',
        'validate and store a manifest or index, and tag it',
        (c) =>
          withClobber(c)
            .positional('ref', {
              type: 'string',
              demandOption: true,
              describe: 'LAYOUT, LAYOUT:TAG, or LAYOUT@DIGEST (the bytes must hash to it)',
            })
            .positional('file', {
              type: 'string',
              demandOption: true,
              describe: 'FILE or - for stdin',
            })
            .option('media-type', {
              type: 'string',
              describe: 'media type when the document has no mediaType field',
            })
            .option('allow-missing', {
              type: 'boolean',
              default: false,
              describe: 'accept references to blobs not in the layout (sparse layout)',
            })
            .example('$0 manifest put ./out:v2 manifest.json', 'store and tag v2')
            .example('cat m.json | $0 manifest put ./out -', 'store untagged from stdin'),
        async (argv) => {
          const ref = parseLayoutRef(argv.ref);
          const mediaType =
            argv['media-type'] === undefined
              ? undefined
              : assertMediaType(argv['media-type'], '--media-type');
          const layout = Layout.open(ref.layout, layoutOptions(argv));
          const bytes = await readInputCapped(
            fileOrStdin(argv.file),
            ctx.io.stdin,
            MAX_MANIFEST_BYTES,
          );
          if (ref.digest !== undefined) {
            const found = digestOf(bytes, algorithmOf(ref.digest));
            if (found !== ref.digest) {
              throw new IntegrityError(
                'E_DIGEST_MISMATCH',
                `${argv.file} hashes to ${found}, not ${ref.digest}`,
                { expected: ref.digest, found },
              );
            }
          }
          const descriptor = await layout.putManifest(bytes, {
            tag: ref.tag,
            mediaType,
            allowMissing: argv['allow-missing'],
            noClobber: noClobber(argv),
            onTagMoved: warnTagMoved(ctx, layout),
          });
          ctx.out.result(descriptor, () => descriptor.digest);
        },
      )
      .command(
        'delete <ref>',
        'remove a manifest: its index.json entries (every tag on it) and its blob',
        (c) =>
          c
            .positional('ref', {
              type: 'string',
              demandOption: true,
              describe: 'LAYOUT@DIGEST, or LAYOUT:TAG (resolved first)',
            })
            .option('force', {
              type: 'boolean',
              default: false,
              describe: 'delete even if another index.json entry still references it',
            })
            .example('$0 manifest delete ./out@sha256:…', 'delete by digest')
            .example('$0 manifest delete ./out:old', 'delete what tag old points to'),
        async (argv) => {
          const ref = parseLayoutRefWithTarget(argv.ref);
          const layout = Layout.open(ref.layout, layoutOptions(argv));
          const r = await deleteManifest(layout, targetOf(ref), { force: argv.force });
          if (r.tags.length > 0) ctx.out.info(`removed tags: ${r.tags.join(', ')}`);
          if (!r.blobRemoved)
            ctx.out.info('its blob stays (missing, or in use by a running writer); gc collects it');
          ctx.out.result(r, () => r.digest);
        },
      )
      .example('$0 manifest get ./out:v1', 'print the manifest tag v1 points to')
      .demandCommand(1, 'name a subcommand: get, put or delete'),
  );

function getLayoutManifest(
  input: string,
  argv: GlobalArgs,
): { descriptor: Descriptor; bytes: Buffer } {
  const ref = parseLayoutRef(input);
  return Layout.open(ref.layout, layoutOptions(argv)).getManifest(targetOf(ref));
}
