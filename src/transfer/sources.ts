// Where a copy reads from: a layout or a registry repository, behind one interface. Every manifest
// handed out is digest-verified and size-checked; blobs are opened as fresh streams (from an offset,
// for resumed uploads) and verified by whoever stores them. A layout source also lets the plan check
// every blob up front and a layout sink hard-link from it.
import { isCosignTagReferrer } from '../referrers/cosign-tag.js';
import { isHaulerKindReferrer } from '../referrers/hauler-kind.js';
import { parseDigest, type Digest } from '../digest.js';
import { IntegrityError, NotFoundError, isOcilayoutError } from '../errors.js';
import type { Layout, Target } from '../layout/layout.js';
import { MAX_MANIFEST_BYTES } from '../media-types.js';
import { ConventionContext } from '../referrers/context.js';
import { buildReferrerGraph, type ReferrerGraph } from '../referrers/discover.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { IndexFile } from '../schema/layout-files.js';
import { parseManifest, type ParsedManifest } from '../schema/manifest.js';
import { isValidTag } from '../layout/refs.js';
import { findTagged } from '../layout/tags.js';
import { digestName, entryName, isDigestName, isWritableName, tagOfName } from '../layout/names.js';
import { openRemoteBlob } from '../registry/blob-pull.js';
import type { RegistryClient } from '../registry/client.js';
import { formatRegistryRef, type RegistryRef } from '../registry/reference.js';
import { listRemoteReferrers, type RemoteReferrers } from '../registry/remote-referrers.js';

export interface SourceDoc {
  descriptor: Descriptor;
  bytes: Buffer;
  parsed: ParsedManifest;
}

export interface ContentSource {
  readonly label: string;
  /**
   * The manifest the reference names, and the tag to carry over: the one the reference names, else
   * (a layout named alone) its one entry's tag when that is a valid tag; for a registry reference
   * by digest, containerd's digest-only name `REGISTRY/REPO@DIGEST`; else undefined.
   */
  resolveRoot(): Promise<SourceDoc & { tag: string | undefined }>;
  manifest(desc: Descriptor): Promise<SourceDoc>;
  referrers(subject: Digest): Promise<RemoteReferrers>;
  /** A manifest by tag (cosign's `sha256-<hex>.sig` tags), undefined when absent. */
  tagged(tag: string): Promise<SourceDoc | undefined>;
  openBlob(desc: Descriptor, offset: number): AsyncIterable<Uint8Array>;
  /**
   * Check, before anything is written, that a non-manifest blob is there with its size (`parent`:
   * the manifest that references it, for the message). Layouts stat the file; a registry answers
   * for its blobs when they are fetched. Throws E_NOT_FOUND, E_SIZE_MISMATCH.
   */
  checkBlob(desc: Descriptor, parent: Descriptor | undefined): void;
  /** Set for registry sources (same-registry destinations mount instead of uploading). */
  readonly remote?: { client: RegistryClient; repository: string } | undefined;
  /** Set for layout sources (a layout sink on the same filesystem hard-links from it). */
  readonly local?: Layout | undefined;
}

function checkSize(doc: SourceDoc, desc: Descriptor, where: string): SourceDoc {
  if (doc.bytes.byteLength !== desc.size) {
    throw new IntegrityError(
      'E_SIZE_MISMATCH',
      `manifest ${desc.digest} in ${where}: descriptor says ${desc.size} bytes, got ${doc.bytes.byteLength}`,
      { digest: desc.digest, expected: desc.size, found: doc.bytes.byteLength },
    );
  }
  // Keep the pointing descriptor's identity but the document's own media type.
  return { ...doc, descriptor: { ...desc, mediaType: doc.parsed.mediaType } };
}

export class LayoutSource implements ContentSource {
  private graph: ReferrerGraph | undefined;
  /**
   * index.json as first read for a tag or the referrer graph: a plan looks up three cosign tags per
   * manifest, and a large index.json must not be parsed again for each. The plan then sees one
   * state of the layout's tags and referrers.
   */
  private index: IndexFile | undefined;
  readonly remote = undefined;

  get local(): Layout {
    return this.layout;
  }

  /** `index`: the index.json snapshot to plan from, when the caller has read it already. */
  constructor(
    readonly layout: Layout,
    private readonly target: Target,
    index?: IndexFile,
  ) {
    this.index = index;
  }

  get label(): string {
    return this.layout.root;
  }

  resolveRoot(): Promise<SourceDoc & { tag: string | undefined }> {
    const desc = this.layout.resolve(this.target);
    const doc = this.read(desc);
    let tag = this.target.tag;
    if (tag === undefined && this.target.digest === undefined) {
      // `copy SRC DST` of a one-entry layout keeps that entry's name, a bare tag or a full name
      // (copyContent takes a full name's tag for a registry); a name we would not write (no tag,
      // a digest, off-grammar) gives its tag when that is valid, else the copy is untagged.
      const name = entryName(desc);
      const implied = name === undefined ? undefined : tagOfName(name);
      tag =
        name !== undefined && (isWritableName(name) || isDigestName(name))
          ? name
          : implied !== undefined && isValidTag(implied)
            ? implied
            : undefined;
    }
    const { mediaType, digest, size, artifactType, platform } = doc.descriptor;
    const clean: Descriptor = { mediaType, digest, size };
    if (artifactType !== undefined) clean.artifactType = artifactType;
    if (platform !== undefined) clean.platform = platform;
    return Promise.resolve({ ...doc, descriptor: clean, tag });
  }

  manifest(desc: Descriptor): Promise<SourceDoc> {
    return Promise.resolve(this.read(desc));
  }

  /** The layout's referrer graph, built once (from the index.json the tag lookups use). */
  referrerGraph(): ReferrerGraph {
    this.index ??= this.layout.readIndex();
    this.graph ??= buildReferrerGraph(this.index, new ConventionContext(this.layout));
    return this.graph;
  }

  referrers(subject: Digest): Promise<RemoteReferrers> {
    // Referrers known only by a cosign tag (or a hauler store's kind) have no `subject` to verify
    // the edge by: the copy carries them as cosign tags (tagged() finds hauler's by cosign's tag,
    // unless --no-cosign-tags), not as OCI referrers.
    const descriptors = this.referrerGraph()
      .referrersOf(subject)
      .filter((d) => !isCosignTagReferrer(d) && !isHaulerKindReferrer(d));
    return Promise.resolve({ descriptors, via: 'layout' });
  }

  tagged(tag: string): Promise<SourceDoc | undefined> {
    this.index ??= this.layout.readIndex();
    const desc = findTagged(this.index, tag);
    return Promise.resolve(desc === undefined ? undefined : this.read(desc));
  }

  openBlob(desc: Descriptor, offset: number): AsyncIterable<Uint8Array> {
    const digest = parseDigest(desc.digest);
    if (offset === 0) return this.layout.blobs.open(digest, { verify: true, size: desc.size });
    // Through the blob store's open: a symlinked or non-regular blob file is refused, as for offset 0.
    return this.layout.blobs.open(digest, { start: offset });
  }

  checkBlob(desc: Descriptor, parent: Descriptor | undefined): void {
    const root = this.layout.root;
    const digest = parseDigest(desc.digest);
    const stat = this.layout.blobs.stat(digest);
    const where = parent === undefined ? '' : ` (referenced by ${parent.digest})`;
    if (stat === undefined) {
      throw new NotFoundError(
        'E_NOT_FOUND',
        `blob ${digest}${where} is not in ${root}; the source layout is incomplete`,
        { digest, layout: root, parent: parent?.digest },
        { hint: `check the source with \`ocilayout fsck ${root}\`` },
      );
    }
    if (stat.size !== desc.size) {
      throw new IntegrityError(
        'E_SIZE_MISMATCH',
        `blob ${digest}${where} in ${root}: descriptor says ${desc.size} bytes, file has ${stat.size}`,
        { digest, expected: desc.size, found: stat.size },
        { hint: `check the source with \`ocilayout fsck ${root}\`` },
      );
    }
  }

  private read(desc: Descriptor): SourceDoc {
    const digest = parseDigest(desc.digest);
    let bytes: Buffer;
    try {
      bytes = this.layout.blobs.readBytes(digest, MAX_MANIFEST_BYTES);
    } catch (err) {
      if (!isOcilayoutError(err, 'E_NOT_FOUND')) throw err;
      // Said as checkBlob says it: the layout is incomplete, and fsck tells what else is missing.
      const root = this.layout.root;
      throw new NotFoundError(
        'E_NOT_FOUND',
        `manifest ${digest} is not in ${root}; the source layout is incomplete`,
        { digest, layout: root },
        { hint: `check the source with \`ocilayout fsck ${root}\``, cause: err },
      );
    }
    const parsed = parseManifest(bytes, `manifest ${digest}`, desc.mediaType);
    return checkSize({ descriptor: desc, bytes, parsed }, desc, this.layout.root);
  }
}

export class RegistrySource implements ContentSource {
  readonly remote: { client: RegistryClient; repository: string };
  readonly local = undefined;

  constructor(
    readonly client: RegistryClient,
    readonly ref: RegistryRef,
  ) {
    this.remote = { client, repository: ref.repository };
  }

  get label(): string {
    return formatRegistryRef(this.ref);
  }

  async resolveRoot(): Promise<SourceDoc & { tag: string | undefined }> {
    const got = await this.client.getManifest(
      this.ref.repository,
      this.ref.digest ?? this.ref.tag ?? 'latest',
    );
    // Pulled by digest: named as containerd names it, `REGISTRY/REPO@DIGEST` (copy.ts decides
    // what each destination makes of that).
    const tag =
      this.ref.digest === undefined
        ? this.ref.tag
        : digestName(`${this.ref.registry}/${this.ref.repository}`, this.ref.digest);
    return { ...got, tag };
  }

  async manifest(desc: Descriptor): Promise<SourceDoc> {
    const got = await this.client.getManifest(this.ref.repository, parseDigest(desc.digest));
    return checkSize(got, desc, this.label);
  }

  referrers(subject: Digest): Promise<RemoteReferrers> {
    return listRemoteReferrers(this.client, this.ref.repository, subject);
  }

  async tagged(tag: string): Promise<SourceDoc | undefined> {
    try {
      return await this.client.getManifest(this.ref.repository, tag);
    } catch (err) {
      if (isOcilayoutError(err, 'E_NOT_FOUND')) return undefined;
      throw err;
    }
  }

  checkBlob(): void {
    // One HEAD per blob would double the round trips; a missing blob fails its own transfer.
  }

  openBlob(desc: Descriptor, offset: number): AsyncIterable<Uint8Array> {
    const blob = { digest: parseDigest(desc.digest), size: desc.size };
    return openRemoteBlob(this.client, this.ref.repository, blob, undefined, offset);
  }
}
