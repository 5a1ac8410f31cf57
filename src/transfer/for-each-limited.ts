// Bounded concurrency for the copy paths (layout → layout, and across the registry bridge): the one
// worker-pool loop they share, so both stop the same way when a blob fails.

/**
 * Run `fn` over `items`, at most `limit` at once. On the first failure no new item starts; the
 * ones running finish, then the first error is thrown. Settling first matters: a failed copy rolls
 * back only after every write has ended, so nothing keeps writing after we return.
 */
export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        failed = true;
        throw err;
      }
    }
  };
  const lanes = Math.max(1, Math.min(limit, items.length));
  const results = await Promise.allSettled(Array.from({ length: lanes }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected !== undefined) throw rejected.reason;
}
