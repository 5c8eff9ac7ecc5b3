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

/** Parses a unified diff (as produced by difflib / diff -u) into rows with line numbers. */
export function parseUnifiedDiff(unified: string): DiffRow[] {
  const rows: DiffRow[] = [];
  if (!unified) return rows;
  const lines = unified.split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  let oldNo = 0;
  let newNo = 0;
  let inHunk = false;
  for (const line of lines) {
    const m = hunkHeader.exec(line);
    if (m) {
      oldNo = Number(m[1]);
      newNo = Number(m[3]);
      inHunk = true;
      rows.push({ kind: 'hunk', text: line });
      continue;
    }
    if (!inHunk || line.startsWith('--- ') || line.startsWith('+++ ')) {
      if (line.startsWith('--- ') || line.startsWith('+++ ')) {
        inHunk = false;
        rows.push({ kind: 'file', text: line });
      } else {
        rows.push({ kind: 'meta', text: line });
      }
      continue;
    }
    if (line.startsWith('+')) {
      rows.push({ kind: 'add', text: line.slice(1), newLine: newNo++ });
    } else if (line.startsWith('-')) {
      rows.push({ kind: 'del', text: line.slice(1), oldLine: oldNo++ });
    } else if (line.startsWith('\\')) {
      rows.push({ kind: 'meta', text: line });
    } else {
      rows.push({ kind: 'context', text: line.startsWith(' ') ? line.slice(1) : line, oldLine: oldNo++, newLine: newNo++ });
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
