// Parsing of unified diffs into rows for rendering.

/** The kind of one diff row. */
export type DiffKind = 'file' | 'hunk' | 'add' | 'del' | 'context' | 'meta';

/** One rendered row of a unified diff with old and new line numbers where they apply. */
export interface DiffRow {
  kind: DiffKind;
  text: string;
  oldLine?: number;
  newLine?: number;
}

/** Summary counts of a diff. */
export interface DiffStats {
  added: number;
  removed: number;
}

const hunkHeader = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/;

/**
 * Parses a unified diff (as produced by difflib / diff -u) into rows with line numbers. Hunk
 * headers' line counts decide where a hunk ends, so changed lines that look like headers
 * ("--- x" for a removed "-- x") stay changes.
 */
export function parseUnifiedDiff(unified: string): DiffRow[] {
  const rows: DiffRow[] = [];
  if (!unified) return rows;
  const lines = unified.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  let oldNo = 0;
  let newNo = 0;
  let oldLeft = 0;
  let newLeft = 0;
  for (const line of lines) {
    const inHunk = oldLeft > 0 || newLeft > 0;
    if (!inHunk) {
      const m = hunkHeader.exec(line);
      if (m) {
        oldNo = Number(m[1]);
        newNo = Number(m[3]);
        oldLeft = m[2] === undefined ? 1 : Number(m[2]);
        newLeft = m[4] === undefined ? 1 : Number(m[4]);
        rows.push({ kind: 'hunk', text: line });
      } else if (line.startsWith('--- ') || line.startsWith('+++ ')) {
        rows.push({ kind: 'file', text: line });
      } else {
        rows.push({ kind: 'meta', text: line });
      }
      continue;
    }
    if (line.startsWith('+')) {
      rows.push({ kind: 'add', text: line.slice(1), newLine: newNo++ });
      newLeft--;
    } else if (line.startsWith('-')) {
      rows.push({ kind: 'del', text: line.slice(1), oldLine: oldNo++ });
      oldLeft--;
    } else if (line.startsWith('\\')) {
      rows.push({ kind: 'meta', text: line });
    } else {
      rows.push({ kind: 'context', text: line.startsWith(' ') ? line.slice(1) : line, oldLine: oldNo++, newLine: newNo++ });
      oldLeft--;
      newLeft--;
    }
  }
  return rows;
}

/** Counts added and removed lines. */
export function diffStats(rows: DiffRow[]): DiffStats {
  let added = 0;
  let removed = 0;
  for (const r of rows) {
    if (r.kind === 'add') added++;
    else if (r.kind === 'del') removed++;
  }
  return { added, removed };
}
