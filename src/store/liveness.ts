// Owner tokens: names for temp files, leases and locks that say which process made them, so a
// sweeper can tell a live writer's files from a crashed one's without a lock per file.
// Linux: pid + process start time (immune to pid reuse); elsewhere: pid only.
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';
import { createHash, randomBytes } from 'node:crypto';

/**
 * Where a pid means something: the host name plus the PID namespace. Two containers that share a
 * host name (`--network host`, `--uts host`) and a layout volume see different processes under one
 * pid; each must judge the other's files 'unknown' (age rule), never 'dead' by a pid lookup.
 */
const HOST = createHash('sha256')
  .update(hostname())
  .update('\0')
  .update(pidNamespace())
  .digest('hex')
  .slice(0, 8);

function pidNamespace(): string {
  try {
    return readlinkSync('/proc/self/ns/pid'); // e.g. `pid:[4026531836]`
  } catch {
    return ''; // not Linux: host name only
  }
}

function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) counted after the `(comm)` field, which may contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

let selfToken: string | undefined;

/** `<host8>.<pid>.<start>`: stable for this process. */
export function ownerToken(): string {
  selfToken ??= `${HOST}.${process.pid}.${startTimeOf(process.pid) ?? '0'}`;
  return selfToken;
}

/** A fresh unique file stem owned by this process: `<owner>.<random>`. */
export function ownedName(suffix: string): string {
  return `${ownerToken()}.${randomBytes(6).toString('hex')}${suffix}`;
}

export type Liveness = 'alive' | 'dead' | 'unknown';

/**
 * Whether the process that owns `name` (made by ownedName/ownerToken) still runs. 'unknown' for
 * names we did not make or owners on another host: callers then fall back to an age rule.
 */
export function ownerLiveness(name: string): Liveness {
  const m = /^([0-9a-f]{8})\.(\d+)\.(\d+)\./.exec(name);
  if (m === null) return 'unknown';
  const [, host, pidText, start] = m as unknown as [string, string, string, string];
  if (host !== HOST) return 'unknown';
  const pid = Number(pidText);
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return 'dead';
    // EPERM: the process exists but belongs to someone else.
  }
  const now = startTimeOf(pid);
  // The pid runs but its start time cannot be read (/proc mounted with hidepid, another user's
  // process): it may be our writer, so never call it dead; keep its files.
  if (now === undefined) return 'alive';
  return start === '0' || now === start ? 'alive' : 'dead';
}
