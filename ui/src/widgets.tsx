// Small shared view components.
import type { MouseEvent, ReactNode } from 'react';
import { describeError } from './graphql';
import { navigate } from './router';
import { parseUnifiedDiff, diffStats } from './diff';
import { formatViolation } from './violations';
import type { Violation } from './violations';

/** Link navigates inside the app without reloading (and opens new tabs normally). */
export function Link({ to, children, className, ariaCurrent }: { to: string; children: ReactNode; className?: string; ariaCurrent?: boolean }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={onClick} className={className} aria-current={ariaCurrent ? 'page' : undefined}>
      {children}
    </a>
  );
}

/** ErrorBox shows a failed request. */
export function ErrorBox({ error, children }: { error: unknown; children?: ReactNode }) {
  if (!error) return null;
  return (
    <div className="error" role="alert">
      <p>{describeError(error)}</p>
      {children}
    </div>
  );
}

/** Loading shows that data is on its way. */
export function Loading({ what }: { what: string }) {
  return (
    <p className="muted" role="status">
      Loading {what}…
    </p>
  );
}

/** Violations lists violations as the CLI prints them. */
export function Violations({ violations, file }: { violations: Violation[]; file: string }) {
  return (
    <div className="error" role="alert" aria-labelledby="violations-title">
      <h3 id="violations-title">
        The design is invalid: {violations.length} violation{violations.length === 1 ? '' : 's'}
      </h3>
      <ul className="violations">
        {violations.map((v, i) => (
          <li key={i} data-path={v.path} data-line={v.line ?? ''}>
            <code>{formatViolation(v, file)}</code>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** DiffView renders a unified diff with line numbers. */
export function DiffView({ unified }: { unified: string }) {
  const rows = parseUnifiedDiff(unified);
  const stats = diffStats(rows);
  return (
    <figure className="diff">
      <figcaption>
        <span className="add-count">+{stats.added}</span> <span className="del-count">−{stats.removed}</span> lines
      </figcaption>
      <table>
        <thead className="visually-hidden">
          <tr>
            <th scope="col">Old line</th>
            <th scope="col">New line</th>
            <th scope="col">Change</th>
            <th scope="col">Text</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r, i) => (
            <tr key={i} className={`diff-${r.kind}`}>
              <td className="ln">{r.oldLine ?? ''}</td>
              <td className="ln">{r.newLine ?? ''}</td>
              <td className="sign" aria-label={r.kind === 'add' ? 'added' : r.kind === 'del' ? 'removed' : undefined}>
                {r.kind === 'add' ? '+' : r.kind === 'del' ? '−' : ''}
              </td>
              <td className="text">
                <pre>{r.text}</pre>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </figure>
  );
}

/** Formats an RFC 3339 time for people, in UTC so pages read the same everywhere. */
export function formatTime(t: string): string {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return t;
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
}
