// tree.ts: box-drawing lines from a labelled tree.
import { describe, expect, it } from 'vitest';
import { renderTree, type TreeNode } from '../../../src/cli/render/tree.js';

const n = (label: string, ...children: TreeNode[]): TreeNode => ({ label, children });

describe('renderTree', () => {
  it('draws the root alone', () => {
    expect(renderTree(n('root'))).toEqual(['root']);
  });

  it('draws siblings with ├── / └── and nested children with │ continuations', () => {
    const tree = n('img', n('sig', n('sig of sig')), n('sbom', n('a'), n('b')));
    expect(renderTree(tree)).toEqual([
      'img',
      '├── sig',
      '│   └── sig of sig',
      '└── sbom',
      '    ├── a',
      '    └── b',
    ]);
  });
});
