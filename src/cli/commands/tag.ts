// `tag`, `untag`, `tags`, `resolve`: the tag resolver over index.json.
import { Layout, isFallbackTagName, parseLayoutRef } from '../../internal.js';
import { layoutOptions, type RegisterCommands } from '../context.js';
import { noClobber, parseTagRef, targetOf, warnTagMoved, withClobber } from '../options.js';

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
            describe: 'LAYOUT:TAG or LAYOUT@DIGEST',
          })
          .positional('tags', {
            type: 'string',
            array: true,
            demandOption: true,
            // yargs gives a variadic positional a [] default, shown as "[default: []]" beside
            // "[required]"; at least one tag is required, so there is no default to show.
            default: undefined,
            describe: 'new tags',
          })
          .example('$0 tag ./out:v1 latest stable', 'tag what v1 points to as latest and stable')
          .example('$0 tag -n ./out:v2 stable', 'refuse if stable already names other content'),
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
          .positional('ref', { type: 'string', demandOption: true, describe: 'LAYOUT:TAG' })
          .example('$0 untag ./out:old', 'remove tag old'),
      async (argv) => {
        const { layout: dir, tag } = parseTagRef(argv.ref);
        const removed = await Layout.open(dir, layoutOptions(argv)).untag(tag);
        ctx.out.result({ tag, removed }, () => removed.map((d) => d.digest));
      },
    )
    .command(
      'tags <layout>',
      'list tags, one a line (referrers fallback tags hidden unless --all)',
      (c) =>
        c
          .positional('layout', {
            type: 'string',
            demandOption: true,
            describe: 'layout directory',
          })
          .option('all', {
            type: 'boolean',
            default: false,
            describe: 'include sha256-<hex> referrers fallback tags',
          })
          .example('$0 tags ./out', 'list tags')
          .example('$0 tags ./out --all --json', 'every tag as a JSON array'),
      (argv) => {
        const all = Layout.open(argv.layout, layoutOptions(argv)).tags();
        const tags = argv.all ? all : all.filter((t) => !isFallbackTagName(t));
        ctx.out.result(tags, () => tags);
      },
    )
    .command(
      'resolve <ref>',
      'print the digest a reference resolves to',
      (c) =>
        c
          .positional('ref', {
            type: 'string',
            demandOption: true,
            describe: 'LAYOUT:TAG, LAYOUT@DIGEST, or LAYOUT when it holds one entry',
          })
          .example('$0 resolve ./out:v1', 'print sha256:…')
          .example('$0 resolve ./out:v1 --json', 'print the descriptor'),
      (argv) => {
        const ref = parseLayoutRef(argv.ref);
        const descriptor = Layout.open(ref.layout, layoutOptions(argv)).resolve(targetOf(ref));
        ctx.out.result(descriptor, () => descriptor.digest);
      },
    );
