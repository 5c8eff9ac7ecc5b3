import { describe, expect, it } from 'vitest';
import { diffStats, parseUnifiedDiff } from './diff';

// The shape the server's difflib.UnifiedDiff produces.
const unified = `--- bookinfo@1
+++ bookinfo@2
@@ -2,7 +2,7 @@
 kind: Design
 metadata:
   labels:
-    team: books
+    team: bookstore
   name: bookinfo
   namespace: bookinfo
 spec:
@@ -40,3 +40,4 @@
 a
+b
+c
 d
`;

describe('parseUnifiedDiff', () => {
  it('numbers old and new lines from the hunk headers', () => {
    const rows = parseUnifiedDiff(unified);
    expect(rows.slice(0, 3).map((r) => r.kind)).toEqual(['file', 'file', 'hunk']);
    expect(rows[3]).toEqual({ kind: 'context', text: 'kind: Design', oldLine: 2, newLine: 2 });
    expect(rows[6]).toEqual({ kind: 'del', text: '    team: books', oldLine: 5 });
    expect(rows[7]).toEqual({ kind: 'add', text: '    team: bookstore', newLine: 5 });
    expect(rows[8]).toEqual({ kind: 'context', text: '  name: bookinfo', oldLine: 6, newLine: 6 });
    const second = rows.findIndex((r) => r.text === '@@ -40,3 +40,4 @@');
    expect(rows.slice(second + 1)).toEqual([
      { kind: 'context', text: 'a', oldLine: 40, newLine: 40 },
      { kind: 'add', text: 'b', newLine: 41 },
      { kind: 'add', text: 'c', newLine: 42 },
      { kind: 'context', text: 'd', oldLine: 41, newLine: 43 },
    ]);
  });

  it('counts changes', () => {
    expect(diffStats(parseUnifiedDiff(unified))).toEqual({ added: 3, removed: 1 });
  });

  it('handles empty diffs, missing counts and no-newline markers', () => {
    expect(parseUnifiedDiff('')).toEqual([]);
    const rows = parseUnifiedDiff('@@ -1 +1 @@\n-x\n\\ No newline at end of file\n+y\n');
    expect(rows).toEqual([
      { kind: 'hunk', text: '@@ -1 +1 @@' },
      { kind: 'del', text: 'x', oldLine: 1 },
      { kind: 'meta', text: '\\ No newline at end of file' },
      { kind: 'add', text: 'y', newLine: 1 },
    ]);
  });

  it('keeps changed lines that look like file headers inside a hunk', () => {
    const rows = parseUnifiedDiff('--- a\n+++ b\n@@ -1,2 +1,2 @@\n--- x\n+++ y\n c\n');
    expect(rows).toEqual([
      { kind: 'file', text: '--- a' },
      { kind: 'file', text: '+++ b' },
      { kind: 'hunk', text: '@@ -1,2 +1,2 @@' },
      { kind: 'del', text: '-- x', oldLine: 1 },
      { kind: 'add', text: '++ y', newLine: 1 },
      { kind: 'context', text: 'c', oldLine: 2, newLine: 2 },
    ]);
  });
});
