// Human tree output (`discover`): box-drawing lines from a labelled tree. Knows nothing of referrers.

export interface TreeNode {
  label: string;
  children: TreeNode[];
}

/** The lines of `root` and its descendants, children drawn with ├──/└── and │ continuations. */
export function renderTree(root: TreeNode): string[] {
  const lines = [root.label];
  const walk = (nodes: readonly TreeNode[], prefix: string): void => {
    nodes.forEach((n, i) => {
      const last = i === nodes.length - 1;
      lines.push(`${prefix}${last ? '└── ' : '├── '}${n.label}`);
      walk(n.children, `${prefix}${last ? '    ' : '│   '}`);
    });
  };
  walk(root.children, '');
  return lines;
}
