// Formatting of design violations exactly as `trellis validate` prints them.

/** A violation as carried in extensions.violations of an INVALID_DESIGN error. */
export interface Violation {
  path: string;
  message: string;
  expected?: string | null;
  hint?: string | null;
  line?: number | null;
  column?: number | null;
}

/** Formats a position like the CLI: file:line:column, file:line, or the file alone. */
export function formatPosition(file: string, line?: number | null, column?: number | null): string {
  if (!line) return file;
  if (!column) return `${file}:${line}`;
  return `${file}:${line}:${column}`;
}

/**
 * Formats a violation on one line like the CLI ("file:line:col: path: message (expected …;
 * hint: …)"); file is the source name the server validated the content under (the design name).
 */
export function formatViolation(v: Violation, file: string): string {
  let out = '';
  const pos = v.line ? formatPosition(file, v.line, v.column) : '';
  if (pos) out += `${pos}: `;
  if (v.path) out += `${v.path}: `;
  out += v.message;
  if (v.expected && v.hint) out += ` (expected ${v.expected}; hint: ${v.hint})`;
  else if (v.expected) out += ` (expected ${v.expected})`;
  else if (v.hint) out += ` (hint: ${v.hint})`;
  return out;
}

/** Reads extensions.violations defensively (unknown shapes yield no violations). */
export function violationsFrom(extensions: Record<string, unknown> | undefined): Violation[] {
  const raw = extensions?.violations;
  if (!Array.isArray(raw)) return [];
  const out: Violation[] = [];
  for (const r of raw) {
    if (!r || typeof r !== 'object') continue;
    const o = r as Record<string, unknown>;
    out.push({
      path: typeof o.path === 'string' ? o.path : '',
      message: typeof o.message === 'string' ? o.message : String(o.message ?? ''),
      expected: typeof o.expected === 'string' ? o.expected : undefined,
      hint: typeof o.hint === 'string' ? o.hint : undefined,
      line: typeof o.line === 'number' ? o.line : undefined,
      column: typeof o.column === 'number' ? o.column : undefined,
    });
  }
  return out;
}
