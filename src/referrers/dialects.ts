// The read dialects that make an index.json entry a referrer by how it is named rather than by a
// `subject` (cosign's tags, hauler's kinds): such an entry travels with its image and is never an
// image of its own to list, pick or copy.
import type { Descriptor } from '../schema/descriptor.js';
import { cosignTagOf } from './cosign-tag.js';
import { isHaulerReferrerEntry } from './hauler-kind.js';

export function isDialectReferrerEntry(entry: Descriptor): boolean {
  return cosignTagOf(entry) !== undefined || isHaulerReferrerEntry(entry);
}
