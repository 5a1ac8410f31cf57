// `blob put|get|stat|delete|list`: content-addressed blobs, verified on the way in and out.
import {
  Layout,
  NotFoundError,
  UsageError,
  deleteBlob,
  findReachableDescriptor,
  isRegistryRef,
  parseRegistryRef,
  remoteBlob,
  parseDigest,
  writeFileAtomic,
  writeToStream,
  type Digest,
  type RemoteReadOptions,
} from '../../internal.js';
import type { Readable } from 'node:stream';
import { layoutOptions, type GlobalArgs, type RegisterCommands } from '../context.js';
import {
  fileOrStdin,
  openInput,
  parseDigestRef,
  refuseBinaryToTerminal,
  remoteReadOptions,
  withPlainHttp,
} from '../options.js';

/** The size a blob must have: --size, else what index.json's graph declares, else unchecked. */
function expectedSize(
  layout: Layout,
  digest: Digest,
  size: number | undefined,
): number | undefined {
  return size ?? findReachableDescriptor(layout, digest)?.size;
}

/** A layout blob, verified while streaming against its digest and expected size. */
function openLocal(
  { layout: dir, digest }: { layout: string; digest: Digest },
  size: number | undefined,
  argv: GlobalArgs,
): { digest: Digest; source: Readable } {
  const layout = Layout.open(dir, layoutOptions(argv));
  requireBlob(layout, digest);
  const expected = expectedSize(layout, digest, size);
  return { digest, source: layout.blobs.open(digest, { verify: true, size: expected }) };
}

async function openRemote(
  input: string,
  size: number | undefined,
  options: RemoteReadOptions,
): Promise<{ digest: Digest; source: Readable }> {
  const blob = await remoteBlob(input, { ...options, size });
  return { digest: blob.digest, source: blob.stream };
}

function requireBlob(layout: Layout, digest: Digest): { size: number } {
  const st = layout.blobs.stat(digest);
  if (st === undefined) {
    throw new NotFoundError('E_NOT_FOUND', `blob ${digest} not found in ${layout.root}`, {
      digest,
    });
  }
  return st;
}

export const registerBlob: RegisterCommands = (y, ctx) =>
  y.command('blob', 'put, get, stat, delete or list blobs', (b) =>
    b
      .command(
        'put <layout> <file>',
        'store a file (or stdin) as a blob; prints its digest',
        (c) =>
          c
            .positional('layout', {
              type: 'string',
              demandOption: true,
              describe: 'layout directory',
            })
            .positional('file', {
              type: 'string',
              demandOption: true,
              describe: 'FILE or - for stdin',
            })
            .option('digest', {
              type: 'string',
              describe: 'refuse content that does not hash to this',
            })
            .option('size', {
              type: 'number',
              describe: 'refuse content that is not this many bytes',
            })
            .example('$0 blob put ./out layer.tar.gz', 'store a file')
            .example('curl -s URL | $0 blob put ./out - --digest sha256:…', 'verified from stdin'),
        async (argv) => {
          const digest = argv.digest === undefined ? undefined : parseDigest(argv.digest);
          const size = argv.size;
          if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
            throw new UsageError('E_USAGE', `--size ${size}: expected a non-negative integer`);
          }
          const layout = Layout.open(argv.layout, layoutOptions(argv));
          const source = await openInput(fileOrStdin(argv.file), ctx.io.stdin);
          const r = await layout.blobs.put(source, { digest, size });
          ctx.out.result(r, () => r.digest);
        },
      )
      .command(
        'get <ref>',
        'write a blob to stdout (or to -o FILE atomically), verified while streaming',
        (c) =>
          withPlainHttp(c)
            .positional('ref', {
              type: 'string',
              demandOption: true,
              describe: 'LAYOUT@DIGEST or docker://HOST/REPO@DIGEST',
            })
            .option('output', { alias: 'o', type: 'string', describe: 'write to FILE atomically' })
            .option('size', {
              type: 'number',
              describe:
                'expected size (default: what the layout’s manifests declare; the registry’s Content-Length)',
            })
            .example('$0 blob get ./out@sha256:… -o layer.tar.gz', 'save a blob')
            .example(
              '$0 blob get ./out@sha256:… | tar -tz',
              'stream it (exit status says if it verified)',
            )
            .example(
              '$0 blob get docker://127.0.0.1:5000/app@sha256:… -o layer.tar.gz',
              'from a registry, verified',
            ),
        async (argv) => {
          // The reference is checked first: a bad digest is E_INVALID_DIGEST whatever else is wrong.
          const remote = isRegistryRef(argv.ref);
          const local = remote ? undefined : parseDigestRef(argv.ref);
          if (remote) parseRegistryRef(argv.ref, { defaultTag: false });
          if (ctx.out.json && argv.output === undefined) {
            throw new UsageError(
              'E_USAGE',
              'blob get --json needs -o FILE (the blob is the output)',
            );
          }
          if (argv.output === undefined) {
            refuseBinaryToTerminal(
              ctx.io.stdout,
              'a blob',
              'give -o FILE, or redirect stdout to a file or a pipe',
            );
          }
          const size = argv.size;
          if (size !== undefined && (!Number.isSafeInteger(size) || size < 0)) {
            throw new UsageError('E_USAGE', `--size ${size}: expected a non-negative integer`);
          }
          const { digest, source } =
            local === undefined
              ? await openRemote(argv.ref, size, remoteReadOptions(argv, ctx))
              : openLocal(local, size, argv);
          if (argv.output === undefined) {
            await writeToStream(source, ctx.io.stdout, 'stdout');
            return;
          }
          const written = await writeFileAtomic(argv.output, source);
          ctx.out.info(`wrote ${written.size} bytes to ${written.path}`);
          if (ctx.out.json) ctx.out.data({ digest, size: written.size, path: written.path });
        },
      )
      .command(
        'stat <ref>',
        'print a blob’s digest and size (and media type when a manifest names it)',
        (c) =>
          c
            .positional('ref', { type: 'string', demandOption: true, describe: 'LAYOUT@DIGEST' })
            .example('$0 blob stat ./out@sha256:… --json', 'digest, size, mediaType, referenced'),
        (argv) => {
          const { layout: dir, digest } = parseDigestRef(argv.ref);
          const layout = Layout.open(dir, layoutOptions(argv));
          const { size } = requireBlob(layout, digest);
          const declared = findReachableDescriptor(layout, digest);
          const result = {
            digest,
            size,
            ...(declared === undefined ? {} : { mediaType: declared.mediaType }),
            referenced: declared !== undefined,
          };
          ctx.out.result(result, () =>
            [digest, String(size), declared?.mediaType ?? '(unreferenced)'].join('\t'),
          );
        },
      )
      .command(
        'delete <ref>',
        'delete a blob (refused while index.json still reaches it, unless --force)',
        (c) =>
          c
            .positional('ref', { type: 'string', demandOption: true, describe: 'LAYOUT@DIGEST' })
            .option('force', {
              type: 'boolean',
              default: false,
              describe: 'delete even if referenced (leaves the layout broken)',
            })
            .example('$0 blob delete ./out@sha256:…', 'delete an unreferenced blob'),
        async (argv) => {
          const { layout: dir, digest } = parseDigestRef(argv.ref);
          await deleteBlob(Layout.open(dir, layoutOptions(argv)), digest, { force: argv.force });
          ctx.out.result({ digest, deleted: true }, () => digest);
        },
      )
      .command(
        'list <layout>',
        'list every blob digest, one a line',
        (c) =>
          c
            .positional('layout', {
              type: 'string',
              demandOption: true,
              describe: 'layout directory',
            })
            .example('$0 blob list ./out | wc -l', 'count blobs'),
        (argv) => {
          const { blobs, strays } = Layout.open(argv.layout, layoutOptions(argv)).blobs.list();
          for (const s of strays) ctx.out.warn(`stray file ${s} (not a supported digest)`);
          ctx.out.result(blobs, () => blobs);
        },
      )
      .example('$0 blob put ./out file.bin', 'store a file and print its digest')
      .demandCommand(1, 'name a subcommand: put, get, stat, delete or list'),
  );
