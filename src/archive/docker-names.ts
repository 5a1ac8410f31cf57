// Image names in docker-save archives: `RepoTags` entries (`repo:tag`) in, `NAME:TAG` out.
// Docker refuses to load names outside the distribution reference grammar, so we check ours.
import { basename, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { isValidRepositoryName, isValidTag, splitImageName } from '../layout/names.js';

/** Throws E_INVALID_REFERENCE unless `name` is a repository name docker accepts (no tag). */
export function assertRepositoryName(name: string): string {
  if (!isValidRepositoryName(name)) {
    throw new UsageError(
      'E_INVALID_REFERENCE',
      `--name ${JSON.stringify(name)} is not a repository name docker accepts`,
      { name },
      {
        hint: 'use lowercase letters, digits and . _ - separators, e.g. --name example.com/team/app (no :tag)',
      },
    );
  }
  return name;
}

/**
 * The default repository name: the layout directory's name, lowercased, with characters docker
 * refuses turned into `-` (`My_Layout.v2` → `my_layout.v2`, `a b` → `a-b`); `image` if nothing is left.
 */
export function defaultRepositoryName(layoutRoot: string): string {
  const raw = basename(resolve(layoutRoot)).toLowerCase();
  const cleaned = raw
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[^a-z0-9]+/, '')
    .replace(/[^a-z0-9]+$/, '');
  return isValidRepositoryName(cleaned) ? cleaned : 'image';
}

/** Split a RepoTags entry: `example.com:5000/app:v1` → repository + tag (`latest` when absent). */
export function splitRepoTag(repoTag: string): { repository: string; tag: string } {
  const split = splitImageName(repoTag);
  if (split?.tag !== undefined && split.repository !== '') {
    return { repository: split.repository, tag: split.tag };
  }
  return { repository: repoTag, tag: 'latest' };
}

/** The bare tag of a RepoTags entry when it is a valid tag, else undefined. */
export function bareTagOf(repoTag: string): string | undefined {
  const { tag } = splitRepoTag(repoTag);
  return isValidTag(tag) ? tag : undefined;
}
