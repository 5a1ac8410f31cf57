// One line per image of a multi-image run (`sync`, a whole-layout `copy`): what happened to it,
// its digest, the bytes moved, and what travelled with it. Knows nothing of where it went.
import { formatBytes, shortDigest } from '../../internal.js';

export interface ImageOutcome {
  status: 'copied' | 'up-to-date' | 'failed' | 'skipped';
  digest?: string | undefined;
  bytes: number;
  referrers: number;
  cosignTags: readonly string[];
  error?: { code: string; message: string } | undefined;
}

const count = (n: number, what: string): string | undefined =>
  n > 0 ? `${n} ${what}${n === 1 ? '' : 's'}` : undefined;

/** `LABEL sha256:0123…: copied 1.5 MiB (linux/amd64, 2 referrers, 1 cosign tag)`. */
export function imageLine(label: string, r: ImageOutcome, extra: readonly string[] = []): string {
  if (r.status === 'failed')
    return `${label}: failed: ${r.error?.code ?? ''} ${r.error?.message ?? ''}`;
  const notes = [
    ...extra,
    count(r.referrers, 'referrer'),
    count(r.cosignTags.length, 'cosign tag'),
  ].filter((s) => s !== undefined);
  const what = r.status === 'up-to-date' ? 'up to date' : `copied ${formatBytes(r.bytes)}`;
  return `${label} ${shortDigest(r.digest ?? '')}: ${what}${notes.length > 0 ? ` (${notes.join(', ')})` : ''}`;
}
