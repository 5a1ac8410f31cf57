// What a writer undoes when its process ends in the middle of an operation: the layout lock it
// holds, blobs gc parked but has not judged, its in-flight part files, its import staging directory
// (and a layout the import created), its lease, its output temp files. The owners register here
// and unregister when their own `finally` has done the work; whatever is still registered runs at
// process exit. The CLI turns SIGINT/SIGTERM/SIGHUP into process.exit (cli/signals.ts), so a
// signal lands here; SIGKILL cannot be caught and leaves the files to gc (owner token dead).
// The library never installs signal handlers itself: a host that exits through process.exit (from
// its own handler or otherwise) gets the same cleanup.

type Action = () => void;

// Insertion-ordered; run newest first, the order the skipped `finally` blocks would have run in
// (the lock, taken last, is released before the slow removal of a staging directory).
const actions = new Set<Action>();
let hookInstalled = false;

/**
 * Run `action` if the process exits before the returned function is called. The action must be
 * synchronous, idempotent and quiet (it runs inside the 'exit' event: no awaiting, no throwing).
 */
export function cleanupAtExit(action: Action): () => void {
  if (!hookInstalled) {
    hookInstalled = true;
    process.on('exit', runExitCleanup);
  }
  actions.add(action);
  return () => {
    actions.delete(action);
  };
}

/**
 * Run every registered action once, newest first. Each is unregistered before it runs, so a
 * second call (a second signal, then the 'exit' event) never repeats or resumes one, and one that
 * throws does not stop the others.
 */
export function runExitCleanup(): void {
  for (const action of [...actions].reverse()) {
    if (!actions.delete(action)) continue;
    try {
      action();
    } catch {
      // Best effort: what stays behind is owned by a dead process, and gc removes it.
    }
  }
}

/** How many actions are registered (tests: every writer unregisters what it finished). */
export function pendingExitCleanups(): number {
  return actions.size;
}
