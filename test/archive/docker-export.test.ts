// docker-export.ts on its own: planDockerExport's choices (which tags, which platform, what is not
// an image), and the files it lists (manifest.json, repositories, an OCI index.json). Planning the
// blobs and writing the tar are the engine's (transfer/export.test.ts).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planDockerExport } from '../../src/archive/docker-export.js';
import { digestOf } from '../../src/digest.js';
import { Annotation, MediaType } from '../../src/media-types.js';
import type { Descriptor } from '../../src/schema/descriptor.js';
import {
  imageIndex,
  imageManifest,
  makeLayout,
  tagged,
  type BlobContent,
  type Descs,
  type MadeLayout,
} from '../helpers/make-layout.js';

/** An image config naming `layers` as its diffIDs, and a manifest over them. */
function image(prefix: string, arch = 'amd64'): Record<string, (d: Descs) => BlobContent> {
  return {
    [`${prefix}layer`]: () => `plain layer tar of ${prefix}`,
    [`${prefix}config`]: () => ({
      architecture: arch,
      os: 'linux',
      rootfs: {
        type: 'layers',
        diff_ids: [digestOf(`plain layer tar of ${prefix}`)],
      },
    }),
    [`${prefix}manifest`]: (d) => imageManifest(d[`${prefix}config`]!, [d[`${prefix}layer`]!]),
  };
}

const FALLBACK = `sha256-${'a'.repeat(64)}`;

/** image a tagged v1 and latest, image b tagged v2, an artifact tagged sig, a fallback tag. */
function layout(): MadeLayout {
  return makeLayout({
    blobs: {
      ...image('a'),
      ...image('b', 'arm64'),
      art: (d) => imageManifest(d['aconfig']!, [], { artifactType: 'application/x.sig' }),
      refs: () => imageIndex([]),
    },
    index: (d) =>
      imageIndex([
        tagged(d['amanifest']!, 'v1'),
        tagged(d['amanifest']!, 'latest'),
        tagged(d['bmanifest']!, 'v2'),
        tagged(d['art']!, 'sig'),
        tagged(d['refs']!, FALLBACK),
      ]),
  });
}

const blobPath = (d: Descriptor): string => `blobs/sha256/${d.digest.slice(7)}`;

function files(plan: ReturnType<typeof planDockerExport>): {
  manifest: { Config: string; RepoTags: string[]; Layers: string[] }[];
  repositories: Record<string, Record<string, string>>;
} {
  return {
    manifest: JSON.parse(plan.extraFiles.get('manifest.json')!.toString()) as never,
    repositories: JSON.parse(plan.extraFiles.get('repositories')!.toString()) as never,
  };
}

describe('planDockerExport', () => {
  it('exports every tag naming an image, skipping artifacts with a warning', () => {
    const m = layout();
    const r = planDockerExport(m.open(), [], { name: 'example.com/app' });
    expect(r.repoTags).toEqual([
      'example.com/app:latest', // tags in listTags order (sorted)
      'example.com/app:v1',
      'example.com/app:v2',
    ]);
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]).toContain('sig');
    const { manifest, repositories } = files(r);
    expect(manifest).toEqual([
      {
        Config: blobPath(m.d['aconfig']!),
        RepoTags: ['example.com/app:latest', 'example.com/app:v1'],
        Layers: [blobPath(m.d['alayer']!)],
      },
      {
        Config: blobPath(m.d['bconfig']!),
        RepoTags: ['example.com/app:v2'],
        Layers: [blobPath(m.d['blayer']!)],
      },
    ]);
    expect(repositories).toEqual({
      'example.com/app': {
        v1: m.d['alayer']!.digest.slice(7),
        latest: m.d['alayer']!.digest.slice(7),
        v2: m.d['blayer']!.digest.slice(7),
      },
    });
  });

  it('fails on a damaged manifest under a tag instead of skipping it as "not an image"', () => {
    const m = layout();
    writeFileSync(join(m.root, blobPath(m.d['bmanifest']!)), '{"schemaVersion":2,"tampered":1}');
    expect(() => planDockerExport(m.open(), [], { name: 'example.com/app' })).toThrow(
      expect.objectContaining({ code: 'E_SIZE_MISMATCH' }),
    );
  });

  it('lists the chosen images in an OCI index.json, and gives them as the roots to plan', () => {
    const m = layout();
    const plan = planDockerExport(m.open(), ['v2'], { name: 'app' });
    expect(plan.entries).toEqual([
      {
        ...m.d['bmanifest'],
        annotations: { [Annotation.ContainerdImageName]: 'app:v2', [Annotation.RefName]: 'app:v2' },
      },
    ]);
    expect(JSON.parse(plan.indexBytes.toString())).toEqual({
      schemaVersion: 2,
      mediaType: MediaType.ImageIndex,
      manifests: plan.entries,
    });
    expect(plan.images).toEqual([m.d['bmanifest']]);
  });

  it('names images after the layout directory by default and refuses a bad --name', () => {
    const m = layout();
    expect(planDockerExport(m.open(), ['v1']).repoTags).toEqual(['layout:v1']);
    expect(() => planDockerExport(m.open(), ['v1'], { name: 'Bad:Name' })).toThrow(
      expect.objectContaining({ code: 'E_INVALID_REFERENCE' }),
    );
  });

  it('names a tag given twice once', () => {
    const r = planDockerExport(layout().open(), ['v1', 'v1', 'latest'], { name: 'app' });
    expect(r.repoTags).toEqual(['app:v1', 'app:latest']);
    expect(r.entries.map((e) => e.annotations?.[Annotation.RefName])).toEqual([
      'app:v1',
      'app:latest',
    ]);
  });

  /** Two repositories sharing `latest`, as a ctr export or podman save -m leaves them, plus v1. */
  function twoRepositories(): MadeLayout {
    const named = (d: Descriptor, name: string): Descriptor => ({
      ...d,
      annotations: { [Annotation.ContainerdImageName]: name, [Annotation.RefName]: 'latest' },
    });
    return makeLayout({
      blobs: { ...image('a'), ...image('b') },
      index: (d) =>
        imageIndex([
          named(d['amanifest']!, 'docker.io/library/alpha:latest'),
          named(d['bmanifest']!, 'example.com/team/beta:latest'),
          tagged(d['bmanifest']!, 'v1'),
        ]),
    });
  }

  it('writes stored full names as RepoTags, bare tags under the directory name', () => {
    const m = twoRepositories();
    const r = planDockerExport(m.open(), []);
    expect(r.repoTags).toEqual([
      'docker.io/library/alpha:latest',
      'example.com/team/beta:latest',
      'layout:v1',
    ]);
    const { manifest, repositories } = files(r);
    expect(manifest.map((i) => i.RepoTags)).toEqual([
      ['docker.io/library/alpha:latest'],
      ['example.com/team/beta:latest', 'layout:v1'],
    ]);
    expect(Object.keys(repositories).sort()).toEqual([
      'docker.io/library/alpha',
      'example.com/team/beta',
      'layout',
    ]);
    // Asked by a full name or by its unique tag: the same RepoTag.
    expect(planDockerExport(m.open(), ['example.com/team/beta:latest']).repoTags).toEqual([
      'example.com/team/beta:latest',
    ]);
    expect(() => planDockerExport(m.open(), ['latest'])).toThrow(
      expect.objectContaining({ code: 'E_INVALID_REFERENCE' }),
    );
  });

  it('--name replaces every repository, and refuses to give two images one name (E_USAGE)', () => {
    const m = twoRepositories();
    expect(
      planDockerExport(m.open(), ['docker.io/library/alpha:latest', 'v1'], { name: 'app' })
        .repoTags,
    ).toEqual(['app:latest', 'app:v1']);
    expect(() => planDockerExport(m.open(), [], { name: 'app' })).toThrow(
      expect.objectContaining({ code: 'E_USAGE' }),
    );
  });

  it('exports an image named by digest untagged', () => {
    const m = layout();
    const r = planDockerExport(m.open(), [m.d['bmanifest']!.digest], { name: 'app' });
    expect(r.repoTags).toEqual([]);
    expect(r.entries).toEqual([m.d['bmanifest']]);
    expect(files(r)).toEqual({
      manifest: [
        { Config: blobPath(m.d['bconfig']!), RepoTags: [], Layers: [blobPath(m.d['blayer']!)] },
      ],
      repositories: {},
    });
  });

  it("exports an image under containerd's digest-only name untagged, with a warning", () => {
    const m = makeLayout({
      blobs: image('a'),
      index: (d) =>
        imageIndex([
          {
            ...d['amanifest']!,
            annotations: {
              [Annotation.ContainerdImageName]: `reg.example/app@${d['amanifest']!.digest}`,
            },
          },
          tagged(d['amanifest']!, 'v1'),
        ]),
    });
    const name = `reg.example/app@${m.d['amanifest']!.digest}`;
    // docker load accepts only NAME:TAG in RepoTags: never the digest name, with --name or not.
    for (const options of [{}, { name: 'other.example/app' }]) {
      const r = planDockerExport(m.open(), [name], options);
      expect(r.repoTags).toEqual([]);
      expect(r.entries).toEqual([m.d['amanifest']]);
      expect(files(r)).toEqual({
        manifest: [
          { Config: blobPath(m.d['aconfig']!), RepoTags: [], Layers: [blobPath(m.d['alayer']!)] },
        ],
        repositories: {},
      });
      expect(r.warnings).toHaveLength(1);
      expect(r.warnings[0]).toContain(name);
      expect(r.warnings[0]).toContain('untagged');
    }
    // Beside a tag of the same image: the tag is listed, the digest name is not.
    const both = planDockerExport(m.open(), [name, 'v1'], { name: 'app' });
    expect(files(both).manifest.map((i) => i.RepoTags)).toEqual([['app:v1']]);
    expect(Object.keys(files(both).repositories)).toEqual(['app']);
  });

  it.each([
    ['an artifact', (d: Descs) => imageManifest(d['aconfig']!, [], { artifactType: 'x/y' })],
    [
      'a manifest whose config is not an image config',
      (d: Descs) =>
        imageManifest({ ...d['aconfig']!, mediaType: 'application/x.cfg' }, [d['alayer']!]),
    ],
    [
      'a manifest whose layer is not a layer tar',
      (d: Descs) =>
        imageManifest(d['aconfig']!, [{ ...d['alayer']!, mediaType: 'application/x.blob' }]),
    ],
  ])('refuses %s named explicitly (E_UNSUPPORTED_MEDIA_TYPE)', (_name, doc) => {
    const m = makeLayout({
      blobs: { ...image('a'), odd: doc },
      index: (d) => imageIndex([tagged(d['odd']!, 'odd')]),
    });
    expect(() => planDockerExport(m.open(), ['odd'])).toThrow(
      expect.objectContaining({ code: 'E_UNSUPPORTED_MEDIA_TYPE' }),
    );
  });

  it('refuses a layout without any image (E_NOT_FOUND), and an unknown tag', () => {
    const m = makeLayout({
      blobs: {
        ...image('a'),
        art: (d) => imageManifest(d['aconfig']!, [], { artifactType: 'x/y' }),
      },
      index: (d) => imageIndex([tagged(d['art']!, 'sig')]),
    });
    expect(() => planDockerExport(m.open(), [])).toThrow(
      expect.objectContaining({ code: 'E_NOT_FOUND' }),
    );
    expect(() => planDockerExport(layout().open(), ['nope'])).toThrow(
      expect.objectContaining({ code: 'E_NOT_FOUND' }),
    );
  });

  describe('when a tag names a multi-platform index', () => {
    function multi(): MadeLayout {
      return makeLayout({
        blobs: {
          ...image('a'),
          ...image('b', 'arm64'),
          attest: (d) => imageManifest(d['aconfig']!, []),
          idx: (d) =>
            imageIndex([
              { ...d['amanifest']!, platform: { os: 'linux', architecture: 'amd64' } },
              {
                ...d['bmanifest']!,
                platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
              },
              {
                ...d['attest']!,
                platform: { os: 'unknown', architecture: 'unknown' },
                annotations: { [Annotation.DockerReferenceType]: 'attestation-manifest' },
              },
            ]),
          single: (d) =>
            imageIndex([
              { ...d['amanifest']!, platform: { os: 'linux', architecture: 'amd64' } },
              {
                ...d['attest']!,
                annotations: { [Annotation.DockerReferenceType]: 'attestation-manifest' },
              },
              { ...d['attest']!, platform: { os: 'unknown', architecture: 'unknown' } },
            ]),
        },
        index: (d) => imageIndex([tagged(d['idx']!, 'multi'), tagged(d['single']!, 'one')]),
      });
    }

    it('needs --platform (E_USAGE), picks it, and says when it is absent (E_NOT_FOUND)', () => {
      const m = multi();
      expect(() => planDockerExport(m.open(), ['multi'])).toThrow(
        expect.objectContaining({
          code: 'E_USAGE',
          message: expect.stringMatching(
            /multi-platform index \(linux\/amd64, linux\/arm64\/v8\).*--platform/,
          ) as string,
          details: { ref: 'multi', platforms: ['linux/amd64', 'linux/arm64/v8'] },
          hint: 'e.g. --platform linux/amd64, or use --format oci to keep the whole index',
        }),
      );
      for (const platform of ['linux/arm64', 'linux/arm64/v8']) {
        const r = planDockerExport(m.open(), ['multi'], { platform, name: 'app' });
        expect(r.entries.map((e) => [e.digest, e.platform])).toEqual([
          [m.d['bmanifest']!.digest, { os: 'linux', architecture: 'arm64', variant: 'v8' }],
        ]);
      }
      for (const platform of ['linux/s390x', 'linux/arm64/v7', 'unknown/unknown']) {
        expect(() => planDockerExport(m.open(), ['multi'], { platform })).toThrow(
          expect.objectContaining({ code: 'E_NOT_FOUND' }),
        );
      }
    });

    it('takes the only image of an index whose other entries are attestations or unknown/unknown', () => {
      const m = multi();
      const r = planDockerExport(m.open(), ['one'], { name: 'app' });
      expect(r.entries.map((e) => e.digest)).toEqual([m.d['amanifest']!.digest]);
      expect(r.repoTags).toEqual(['app:one']);
    });
  });
});
