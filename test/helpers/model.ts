// A deliberately simple in-memory model of a layout, for property tests: which tag names which
// manifest, which referrers are recorded for which subject, and which blobs each manifest needs.
// gc's rule in the model: tagged manifests live; a recorded referrer lives while its subject lives.

export class LayoutModel {
  /** tag → manifest digest. */
  readonly tags = new Map<string, string>();
  /** subject digest → recorded referrer digests. */
  readonly referrers = new Map<string, Set<string>>();
  /** manifest digest → every blob it needs (itself, config, layers). */
  readonly closures = new Map<string, Set<string>>();
  /** Manifests whose blob was deleted (`manifest delete`) and not stored again since. */
  readonly deleted = new Set<string>();

  stored(digest: string, closure: Iterable<string>): void {
    this.closures.set(digest, new Set(closure));
    this.deleted.delete(digest);
  }

  tag(tag: string, digest: string): void {
    this.tags.set(tag, digest);
  }

  untag(tag: string): void {
    this.tags.delete(tag);
  }

  /** `manifest delete`: every tag on it goes, and its blob. Its referrers stay until gc. */
  deleteManifest(digest: string): void {
    for (const [t, d] of [...this.tags]) if (d === digest) this.tags.delete(t);
    this.deleted.add(digest);
  }

  attach(subject: string, referrer: string): void {
    const set = this.referrers.get(subject) ?? new Set<string>();
    set.add(referrer);
    this.referrers.set(subject, set);
  }

  detach(referrer: string): void {
    for (const [s, set] of [...this.referrers]) {
      set.delete(referrer);
      if (set.size === 0) this.referrers.delete(s);
    }
  }

  /** Recorded referrers, each with its subject. */
  recorded(): { subject: string; referrer: string }[] {
    return [...this.referrers].flatMap(([subject, set]) =>
      [...set].map((referrer) => ({ subject, referrer })),
    );
  }

  /** Manifests that exist and can be named: tagged ones and recorded referrers (sorted). */
  nameable(): string[] {
    const out = new Set<string>(this.tags.values());
    for (const { referrer } of this.recorded()) out.add(referrer);
    return [...out].filter((d) => !this.deleted.has(d)).sort();
  }

  /** What gc keeps: tagged manifests, then referrers of anything kept, transitively. */
  live(): Set<string> {
    const live = new Set([...this.tags.values()].filter((d) => !this.deleted.has(d)));
    let grew = true;
    while (grew) {
      grew = false;
      for (const { subject, referrer } of this.recorded()) {
        if (live.has(subject) && !live.has(referrer) && !this.deleted.has(referrer)) {
          live.add(referrer);
          grew = true;
        }
      }
    }
    return live;
  }

  /** gc: referrers of subjects that did not survive are forgotten. */
  gc(): void {
    const live = this.live();
    for (const s of [...this.referrers.keys()]) if (!live.has(s)) this.referrers.delete(s);
  }

  /** Blobs the live manifests need (after gc, blobs/ holds these plus referrer bookkeeping). */
  liveBlobs(): Set<string> {
    const out = new Set<string>();
    for (const m of this.live()) for (const b of this.closures.get(m) ?? []) out.add(b);
    return out;
  }
}
