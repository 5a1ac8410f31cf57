// Pins: gc leases on blobs a client has pushed but no manifest references yet. A registry client
// pushes layers and config first and the manifest that references them last, in separate
// requests, maybe minutes apart. Until that manifest is committed nothing in index.json reaches
// the blobs, and a gc run in between (by cron, by the CLI) would take them. Each pushed blob is
// therefore leased for a grace period through the layout's ordinary lease protocol
// (spec-notes/concurrency.md), so gc in any process keeps it.
//
// Leases are append-only files, one per operation; holding one per blob would leave thousands of
// lease files for gc to read. Pins share one lease per layout per half grace period instead (a
// "batch"): a blob is held for between one and one and a half grace periods. Unpinning one digest
// (a DELETE of that blob) re-leases the rest of its batch in a fresh lease and drops the old one.
import { AsyncResource } from 'node:async_hooks';
import { leaseDigest, withOperationLease } from '../store/ingest.js';

interface Batch {
  readonly root: string;
  readonly opened: number;
  readonly digests: Set<string>;
  /** Lease a digest in this batch's lease (runs in the batch operation's async context). */
  lease(digest: string): void;
  /** End the batch operation: its lease file goes. */
  end(): void;
  timer: NodeJS.Timeout;
}

export class BlobPins {
  private readonly batches = new Set<Batch>();
  private closed = false;
  /**
   * Runs a function in the async context this object was made in (outside any operation): a
   * batch opened from inside a request's operation would otherwise nest in it and share, and
   * lose with it, that operation's lease.
   */
  private readonly outside = AsyncResource.bind(<T>(fn: () => T): T => fn());

  constructor(private readonly graceMs: number) {}

  /** Keep `digest` in the layout at `root` from gc for the grace period. */
  async pin(root: string, digest: string): Promise<void> {
    if (this.closed || this.graceMs <= 0) return;
    const now = Date.now();
    let batch = [...this.batches].find((b) => b.root === root && now - b.opened < this.graceMs / 2);
    batch ??= await this.open(root, now, this.graceMs * 1.5);
    batch.digests.add(digest);
    batch.lease(digest);
  }

  /** Stop holding `digest` in `root` (a client deleted the blob). */
  async unpin(root: string, digest: string): Promise<void> {
    for (const old of [...this.batches]) {
      if (old.root !== root || !old.digests.has(digest)) continue;
      const rest = [...old.digests].filter((d) => d !== digest);
      if (rest.length > 0) {
        // The rest is leased again before the old lease goes: no moment without protection.
        const fresh = await this.open(
          root,
          old.opened,
          old.opened + this.graceMs * 1.5 - Date.now(),
        );
        for (const d of rest) {
          fresh.digests.add(d);
          fresh.lease(d);
        }
      }
      this.finish(old);
    }
  }

  /** Whether `digest` is pinned in `root` (for tests and logs). */
  isPinned(root: string, digest: string): boolean {
    return [...this.batches].some((b) => b.root === root && b.digests.has(digest));
  }

  /** Release every pin (server shutdown). */
  close(): void {
    this.closed = true;
    for (const b of [...this.batches]) this.finish(b);
  }

  private finish(batch: Batch): void {
    clearTimeout(batch.timer);
    this.batches.delete(batch);
    batch.end();
  }

  /** Start a batch: an operation on `root` that stays open until it is ended, after `lifeMs`. */
  private open(root: string, opened: number, lifeMs: number): Promise<Batch> {
    return new Promise<Batch>((ready) => {
      void this.outside(() =>
        withOperationLease(
          root,
          () =>
            new Promise<void>((end) => {
              // Bound to this operation's async context, so the digests land in its lease file.
              const lease = AsyncResource.bind((digest: string) => leaseDigest(root, digest));
              const batch: Batch = {
                root,
                opened,
                digests: new Set(),
                lease,
                end,
                timer: setTimeout(() => this.finish(batch), Math.max(0, lifeMs)),
              };
              batch.timer.unref();
              this.batches.add(batch);
              ready(batch);
            }),
        ),
      );
    });
  }
}
