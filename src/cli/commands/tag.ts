// `tag`, `untag`, `tags`, `resolve`: the tag resolver over index.json.
import {
  Layout,
  isFallbackTagName,
  isRegistryRef,
  parseLayoutRef,
  remoteResolve,
  remoteTags,
  type Descriptor,
} from '../../internal.js';
import { layoutOptions, type GlobalArgs, type RegisterCommands } from '../context.js';
import {
  noClobber,
  parseTagRef,
  remoteReadOptions,
  targetOf,
  warnTagMoved,
  withClobber,
  withPlainHttp,
} from '../options.js';

export const registerTag: RegisterCommands = (y, ctx) =>
  y
    .command(
      'tag <ref> <tags..>',
      'point one or more tags at what REF resolves to',
      (c) =>
        withClobber(c)
          .positional('ref', {
            type: 'string',
            demandOption: true,
            describe: 'LAYOUT:TAG, LAYOUT:REGISTRY/REPO:TAG or LAYOUT@DIGEST',
          })
          .positional('tags', {
            type: 'string',
            array: true,
            demandOption: true,
            // yargs gives a variadic positional a [] default, shown as "[default: []]" beside
            // "[required]"; at least one tag is required, so there is no default to show.
            default: undefined,
            describe: 'new tags, or full image names (example.com/team/app:v1)',
          })
          .example('$0 tag ./out:v1 latest stable', 'tag what v1 points to as latest and stable')
          .example('$0 tag -n ./out:v2 stable', 'refuse if stable already names other content')
          .example(
            '$0 tag ./out:v1 docker.io/library/app:v1',
            'a full name, as ctr images import and podman load read it',
          ),
      async (argv) => {
        const ref = parseLayoutRef(argv.ref);
        const layout = Layout.open(ref.layout, layoutOptions(argv));
        const descriptor = await layout.tag(targetOf(ref), argv.tags, {
          noClobber: noClobber(argv),
          onTagMoved: warnTagMoved(ctx, layout),
        });
        ctx.out.result({ descriptor, tags: argv.tags }, () => descriptor.digest);
      },
    )
    .command(
      'untag <ref>',
      'remove a tag (the content stays until gc)',
      (c) =>
        c
          .positional('ref', {
            type: 'string',
            demandOption: true,
            describe: 'LAYOUT:TAG or LAYOUT:REGISTRY/REPO:TAG',
          })
          .example('$0 untag ./out:old', 'remove tag old'),
      async (argv) => {
        const { layout: dir, tag } = parseTagRef(argv.ref);
        const removed = await Layout.open(dir, layoutOptions(argv)).untag(tag);
        ctx.out.result({ tag, removed }, () => removed.map((d) => d.digest));
      },
    )
    .command(
      'tags <layout>',
      'list names, one a line: bare tags, and full image names in full (referrers fallback tags hidden unless --all)',
      (c) =>
        withPlainHttp(c)
          .positional('layout', {
            type: 'string',
            demandOption: true,
            describe: 'layout directory, or docker://HOST/REPO',
          })
          .option('all', {
            type: 'boolean',
            default: false,
            describe: 'include sha256-<hex> referrers fallback tags',
          })
          .example('$0 tags ./out', 'list tags')
          .example('$0 tags ./out --all --json', 'every tag as a JSON array')
          .example('$0 tags docker://127.0.0.1:5000/app', 'the tags of a registry repository'),
      async (argv) => {
        const all = isRegistryRef(argv.layout)
          ? await remoteTags(argv.layout, remoteReadOptions(argv, ctx))
          : Layout.open(argv.layout, layoutOptions(argv)).tags();
        const tags = argv.all ? all : all.filter((t) => !isFallbackTagName(t));
        ctx.out.result(tags, () => tags);
      },
    )
    .command(
      'resolve <ref>',
      'print the digest a reference resolves to',
      (c) =>
        withPlainHttp(c)
          .positional('ref', {
            type: 'string',
            demandOption: true,
            describe:
              'LAYOUT:TAG, LAYOUT:REGISTRY/REPO:TAG, LAYOUT@DIGEST, LAYOUT when it holds one entry, or docker://HOST/REPO[:TAG|@DIGEST]',
          })
          .example('$0 resolve ./out:v1', 'print sha256:…')
          .example('$0 resolve ./out:v1 --json', 'print the descriptor')
          .example('$0 resolve docker://127.0.0.1:5000/app:v1', 'the digest a registry tag names'),
      async (argv) => {
        const descriptor = isRegistryRef(argv.ref)
          ? await remoteResolve(argv.ref, remoteReadOptions(argv, ctx))
          : resolveLayout(argv.ref, argv);
        ctx.out.result(descriptor, () => descriptor.digest);
      },
    );

function resolveLayout(input: string, argv: GlobalArgs): Descriptor {
  const ref = parseLayoutRef(input);
  return Layout.open(ref.layout, layoutOptions(argv)).resolve(targetOf(ref));
}
