// Backpressure helper shared by the archive readers and writers (Node streams and tar-stream's
// streamx streams alike): wait until a writable wants more, or has ended one way or another.

/** Resolves on 'drain' or 'close', rejects on 'error'. Callers check `destroyed` afterwards. */
export function waitDrain(w: NodeJS.EventEmitter): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      w.off('drain', onDrain);
      w.off('close', onDrain);
      w.off('error', onError);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onError = (err: unknown): void => {
      cleanup();
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    w.on('drain', onDrain);
    w.on('close', onDrain);
    w.on('error', onError);
  });
}
