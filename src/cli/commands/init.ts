// `init`: create an empty layout, or accept an existing one unchanged. `info` is info.ts's.
import { Layout } from '../../internal.js';
import { layoutOptions, type RegisterCommands } from '../context.js';

export const registerInit: RegisterCommands = (y, ctx) =>
  y.command(
    'init <layout>',
    'create an empty OCI layout (idempotent)',
    (c) =>
      c
        .positional('layout', {
          type: 'string',
          demandOption: true,
          describe: 'directory to create',
        })
        .example('$0 init ./out', 'create ./out with oci-layout, index.json and blobs/'),
    (argv) => {
      // The one verb that adds oci-layout to a hauler 2.x store (layout-dir.ts).
      const { layout, created } = Layout.init(argv.layout, layoutOptions(argv), {
        adoptHauler: true,
      });
      ctx.out.result(
        { layout: layout.root, created },
        () => `${created ? 'created' : 'already a layout'}: ${layout.root}`,
      );
    },
  );
