// A design's pages: head YAML and history, editor, diff, translate preview and policy check.
import { useEffect, useMemo, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import { CheckQuery, DesignQuery, DiffQuery, HistoryQuery, MeshesQuery, SaveMutation, TranslateQuery } from '../api';
import type { CapabilityData, CheckData, DesignData, DiffData, HistoryData, RevisionSummary, SaveData, TranslateData, TranslationWarning } from '../api';
import { ApiError } from '../graphql';
import { designPath, navigate } from '../router';
import type { DesignTab } from '../router';
import { useQuery, useSession } from '../session';
import { violationsFrom } from '../violations';
import type { Violation } from '../violations';
import { DiffView, ErrorBox, Link, Loading, Violations, formatTime } from '../widgets';

type DesignNode = NonNullable<DesignData['design']>;

/** HistoryPage is the number of revisions loaded at a time. */
const HistoryPage = 20;

const tabTitles: Record<DesignTab, string> = {
  overview: 'Overview',
  edit: 'Edit',
  diff: 'Diff',
  translate: 'Translate',
  check: 'Policy check',
};

/** DesignPage loads a design and shows the selected sub-page. */
export function DesignPage({ name, tab, params }: { name: string; tab: DesignTab; params: URLSearchParams }) {
  const { lastChange, changes } = useSession();
  const q = useQuery<DesignData>(DesignQuery, { name, first: HistoryPage });
  const reload = q.reload;
  // Refresh on live changes of this design, except in the editor (where the user's edits must
  // survive; a stale save reports a conflict instead).
  useEffect(() => {
    if (changes > 0 && lastChange?.name === name && tab !== 'edit') reload();
  }, [changes, lastChange, name, tab, reload]);
  const d = q.data?.design;
  return (
    <main id="main">
      <p className="breadcrumb">
        <Link to="/">Designs</Link> / <span>{name}</span>
      </p>
      <h1>
        {name}
        {d && <span className="rev-badge"> revision {d.headRevision}</span>}
      </h1>
      <nav className="tabs" aria-label="Design pages">
        {(Object.keys(tabTitles) as DesignTab[]).map((t) => (
          <Link key={t} to={designPath(name, t)} className={t === tab ? 'active' : undefined} ariaCurrent={t === tab}>
            {tabTitles[t]}
          </Link>
        ))}
      </nav>
      <ErrorBox error={q.error} />
      {!q.data && q.loading && <Loading what="the design" />}
      {q.data && !d && (
        <div className="error" role="alert">
          <p>There is no design named “{name}”.</p>
        </div>
      )}
      {d && tab === 'overview' && <Overview design={d} />}
      {d && tab === 'edit' && <Editor key={d.name} design={d} reload={reload} />}
      {d && tab === 'diff' && <DiffPage design={d} params={params} />}
      {d && tab === 'translate' && <TranslatePage design={d} params={params} />}
      {d && tab === 'check' && <CheckPage design={d} params={params} />}
    </main>
  );
}

function Overview({ design }: { design: DesignNode }) {
  const { client } = useSession();
  const [older, setOlder] = useState<{ revs: RevisionSummary[]; cursor: string | null; more: boolean; forHead: number }>({ revs: [], cursor: null, more: false, forHead: 0 });
  const [olderError, setOlderError] = useState<unknown>(null);
  const [loadingOlder, setLoadingOlder] = useState(false);
  // Older pages belong to the head they were loaded under; a new head starts over.
  const extra = older.forHead === design.headRevision ? older : { revs: [], cursor: null, more: false, forHead: design.headRevision };
  const revs = [...design.history.edges.map((e) => e.node), ...extra.revs];
  const hasMore = extra.revs.length > 0 ? extra.more : design.history.pageInfo.hasNextPage;
  const cursor = extra.revs.length > 0 ? extra.cursor : design.history.pageInfo.endCursor;
  const loadOlder = async () => {
    setLoadingOlder(true);
    setOlderError(null);
    try {
      const d = await client.request<HistoryData>(HistoryQuery, { name: design.name, first: HistoryPage, after: cursor });
      const h = d.design?.history;
      if (h) setOlder({ revs: [...extra.revs, ...h.edges.map((e) => e.node)], cursor: h.pageInfo.endCursor, more: h.pageInfo.hasNextPage, forHead: design.headRevision });
    } catch (err) {
      setOlderError(err);
    } finally {
      setLoadingOlder(false);
    }
  };
  return (
    <div className="columns">
      <section aria-labelledby="yaml-title" className="grow">
        <h2 id="yaml-title">Revision {design.head.number} (head)</h2>
        <p className="muted">
          By <strong>{design.head.author}</strong> at {formatTime(design.head.createdAt)}
          {design.head.message && <> — {design.head.message}</>}
        </p>
        <pre className="yaml" tabIndex={0} aria-label={`YAML of revision ${design.head.number}`}>
          {design.head.content}
        </pre>
      </section>
      <section aria-labelledby="history-title" className="side">
        <h2 id="history-title">History</h2>
        <ol className="history" aria-label="Revisions, newest first">
          {revs.map((r) => (
            <li key={r.number} data-revision={r.number}>
              <span className="rev">#{r.number}</span> <strong>{r.author}</strong>
              <span className="muted"> {formatTime(r.createdAt)}</span>
              {r.message && <div className="msg">{r.message}</div>}
              {r.number > 1 && (
                <Link to={designPath(design.name, 'diff', { from: r.number - 1, to: r.number })}>
                  Changes from #{r.number - 1}
                </Link>
              )}
            </li>
          ))}
        </ol>
        <ErrorBox error={olderError} />
        {hasMore && (
          <button type="button" className="secondary more" onClick={loadOlder} disabled={loadingOlder}>
            {loadingOlder ? 'Loading…' : 'Show older revisions'}
          </button>
        )}
      </section>
    </div>
  );
}

function DiffPage({ design, params }: { design: DesignNode; params: URLSearchParams }) {
  const head = design.headRevision;
  const to = clampRev(Number(params.get('to') ?? head), head);
  const from = clampRev(Number(params.get('from') ?? Math.max(1, to - 1)), head);
  const [f, setF] = useState(String(from));
  const [t, setT] = useState(String(to));
  useEffect(() => {
    setF(String(from));
    setT(String(to));
  }, [from, to]);
  const q = useQuery<DiffData>(DiffQuery, { design: design.name, from, to });
  const submit = (e: FormEvent) => {
    e.preventDefault();
    navigate(designPath(design.name, 'diff', { from: f, to: t }));
  };
  const numbers = Array.from({ length: head }, (_, i) => head - i);
  return (
    <section aria-labelledby="diff-title">
      <h2 id="diff-title">
        Changes from revision {from} to revision {to}
      </h2>
      <form className="inline" onSubmit={submit}>
        <label htmlFor="diff-from">From</label>
        <select id="diff-from" value={f} onChange={(e) => setF(e.target.value)}>
          {numbers.map((n) => (
            <option key={n} value={n}>
              #{n}
            </option>
          ))}
        </select>
        <label htmlFor="diff-to">To</label>
        <select id="diff-to" value={t} onChange={(e) => setT(e.target.value)}>
          {numbers.map((n) => (
            <option key={n} value={n}>
              #{n}
            </option>
          ))}
        </select>
        <button type="submit">Compare</button>
      </form>
      <ErrorBox error={q.error} />
      {!q.data && q.loading && <Loading what="the diff" />}
      {q.data && (q.data.diff.identical ? <p role="status">The two revisions are identical.</p> : <DiffView unified={q.data.diff.unified} />)}
    </section>
  );
}

function clampRev(n: number, head: number): number {
  if (!Number.isFinite(n) || n < 1) return 1;
  return Math.min(Math.floor(n), head);
}

type SaveOutcome =
  | { kind: 'none' }
  | { kind: 'invalid'; violations: Violation[]; message: string }
  | { kind: 'conflict'; head: number | null; message: string }
  | { kind: 'error'; error: unknown }
  | { kind: 'saved'; revision: number; created: boolean };

function Editor({ design, reload }: { design: DesignNode; reload: () => void }) {
  const { client, lastChange, signOut } = useSession();
  const [base, setBase] = useState(design.headRevision);
  const [content, setContent] = useState(design.head.content);
  const [message, setMessage] = useState('');
  const [busy, setBusy] = useState(false);
  const [outcome, setOutcome] = useState<SaveOutcome>({ kind: 'none' });
  const area = useRef<HTMLTextAreaElement>(null);
  const pendingReload = useRef(false);

  // After an explicit reload (or a save), adopt the new head into the editor.
  useEffect(() => {
    if (pendingReload.current) {
      pendingReload.current = false;
      setBase(design.headRevision);
      setContent(design.head.content);
    }
  }, [design]);

  const newer = lastChange && lastChange.name === design.name && lastChange.kind === 'SAVED' && lastChange.revision > base ? lastChange : null;
  const lines = useMemo(() => content.split('\n').length, [content]);

  const save = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setOutcome({ kind: 'none' });
    try {
      const data = await client.request<SaveData>(SaveMutation, {
        input: { name: design.name, content, expectedRevision: base, message },
      });
      setOutcome({ kind: 'saved', revision: data.saveDesign.revision.number, created: data.saveDesign.created });
      setMessage('');
      pendingReload.current = true;
      reload();
    } catch (err) {
      if (err instanceof ApiError && err.unauthenticated) {
        signOut('Your API token was rejected (401 Unauthorized) while saving; your edit was not saved. Sign in again with a valid token.');
      } else if (err instanceof ApiError && err.code === 'INVALID_DESIGN') {
        setOutcome({ kind: 'invalid', violations: violationsFrom(err.extensions), message: err.message });
      } else if (err instanceof ApiError && err.code === 'CONFLICT') {
        const h = err.extensions.head;
        setOutcome({ kind: 'conflict', head: typeof h === 'number' ? h : null, message: err.message });
      } else {
        setOutcome({ kind: 'error', error: err });
      }
    } finally {
      setBusy(false);
    }
  };

  const reloadLatest = () => {
    pendingReload.current = true;
    setOutcome({ kind: 'none' });
    reload();
  };

  const goToLine = (line: number) => {
    const ta = area.current;
    if (!ta) return;
    const parts = content.split('\n');
    let pos = 0;
    for (let i = 0; i < Math.min(line - 1, parts.length); i++) pos += parts[i].length + 1;
    ta.focus();
    ta.setSelectionRange(pos, pos + (parts[line - 1]?.length ?? 0));
    const lh = parseFloat(getComputedStyle(ta).lineHeight) || 18;
    ta.scrollTop = Math.max(0, (line - 4) * lh);
    syncGutter();
  };

  const gutter = useRef<HTMLDivElement>(null);
  const syncGutter = () => {
    if (gutter.current && area.current) gutter.current.scrollTop = area.current.scrollTop;
  };
  const badLines = new Set(outcome.kind === 'invalid' ? outcome.violations.map((v) => v.line ?? 0) : []);

  return (
    <section aria-labelledby="edit-title">
      <h2 id="edit-title">Edit (based on revision {base})</h2>
      {newer && outcome.kind !== 'conflict' && (
        <p className="notice" role="status">
          {newer.actor} saved revision {newer.revision} while you were editing. Saving now will report a conflict.{' '}
          <button type="button" className="link" onClick={reloadLatest}>
            Load revision {newer.revision}
          </button>
        </p>
      )}
      <form onSubmit={save}>
        <label htmlFor="content">Design YAML ({lines} lines)</label>
        <div className="editor">
          <div className="gutter" ref={gutter} aria-hidden="true">
            {Array.from({ length: lines }, (_, i) => (
              <div key={i} className={badLines.has(i + 1) ? 'bad' : undefined}>
                {i + 1}
              </div>
            ))}
          </div>
          <textarea
            id="content"
            ref={area}
            value={content}
            onChange={(e) => setContent(e.target.value)}
            onScroll={syncGutter}
            spellCheck={false}
            wrap="off"
            rows={Math.min(32, Math.max(12, lines + 1))}
            aria-describedby="save-result"
          />
        </div>
        <label htmlFor="message">Change message</label>
        <input id="message" type="text" value={message} onChange={(e) => setMessage(e.target.value)} placeholder="What changed and why" />
        <div className="actions">
          <button type="submit" disabled={busy}>
            {busy ? 'Saving…' : 'Save revision'}
          </button>
          <button
            type="button"
            className="secondary"
            onClick={() => {
              setContent(design.head.content);
              setBase(design.headRevision);
              setOutcome({ kind: 'none' });
            }}
          >
            Discard changes
          </button>
        </div>
      </form>
      <div id="save-result">
        {outcome.kind === 'saved' && (
          <p className="success" role="status">
            {outcome.created ? `Saved revision ${outcome.revision}.` : `No change: the content equals revision ${outcome.revision}.`}
          </p>
        )}
        {outcome.kind === 'invalid' && (
          <>
            <Violations violations={outcome.violations} file={design.name} />
            <ul className="jump" aria-label="Go to a violation's line">
              {outcome.violations
                .filter((v) => v.line)
                .map((v, i) => (
                  <li key={i}>
                    <button type="button" className="link" onClick={() => goToLine(v.line!)}>
                      Go to line {v.line} ({v.path || 'document'})
                    </button>
                  </li>
                ))}
            </ul>
          </>
        )}
        {outcome.kind === 'conflict' && (
          <div className="error conflict" role="alert">
            <h3>Conflict: the design changed since you started editing</h3>
            <p>
              You edited revision {base}, but the latest revision is {outcome.head ?? 'newer'}. Your change was not saved. Reload the latest revision and apply your change again (copy your text first if you need it).
            </p>
            <p className="muted">{outcome.message}</p>
            <button type="button" onClick={reloadLatest}>
              Reload latest revision
            </button>
          </div>
        )}
        {outcome.kind === 'error' && <ErrorBox error={outcome.error} />}
      </div>
    </section>
  );
}

function useMeshes(): { meshes: string[]; error: unknown } {
  const q = useQuery<CapabilityData>(MeshesQuery, {});
  return { meshes: q.data?.capabilities.meshes ?? [], error: q.error };
}

function Warnings({ warnings }: { warnings: TranslationWarning[] }) {
  if (warnings.length === 0) return <p role="status">No translation warnings: nothing of the design is lost.</p>;
  return (
    <table className="list" aria-label="Translation warnings">
      <thead>
        <tr>
          <th scope="col">Severity</th>
          <th scope="col">Mesh</th>
          <th scope="col">Path</th>
          <th scope="col">Feature</th>
          <th scope="col">What is lost</th>
        </tr>
      </thead>
      <tbody>
        {warnings.map((w, i) => (
          <tr key={i} className={`sev-${w.severity}`}>
            <td>{w.severity}</td>
            <td>{w.mesh}</td>
            <td>
              <code>{w.path}</code>
            </td>
            <td>{w.feature}</td>
            <td>{w.lost}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function TranslatePage({ design, params }: { design: DesignNode; params: URLSearchParams }) {
  const { meshes, error } = useMeshes();
  const mesh = params.get('mesh') ?? '';
  const q = useQuery<TranslateData>(TranslateQuery, { design: design.name, mesh }, mesh !== '');
  return (
    <section aria-labelledby="translate-title">
      <h2 id="translate-title">Translate revision {design.headRevision}</h2>
      <ErrorBox error={error} />
      <div className="inline">
        <label htmlFor="mesh">Mesh</label>
        <select id="mesh" value={mesh} onChange={(e) => navigate(designPath(design.name, 'translate', { mesh: e.target.value }), true)}>
          <option value="">Choose a mesh…</option>
          {meshes.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      </div>
      {mesh && <ErrorBox error={q.error} />}
      {mesh && !q.data && q.loading && <Loading what="the translation" />}
      {mesh && q.data && q.data.translate.mesh === mesh && (
        <>
          <h3>Warnings</h3>
          <Warnings warnings={q.data.translate.warnings} />
          <h3>
            Manifests ({q.data.translate.objectCount} object{q.data.translate.objectCount === 1 ? '' : 's'})
          </h3>
          <pre className="yaml" tabIndex={0} aria-label={`Manifests for ${mesh}`}>
            {q.data.translate.manifests}
          </pre>
        </>
      )}
    </section>
  );
}

function CheckPage({ design, params }: { design: DesignNode; params: URLSearchParams }) {
  const { meshes: all, error: meshError } = useMeshes();
  // ?meshes=a,b selects meshes; absent: every registered mesh; empty: the design rules only.
  const param = params.get('meshes');
  const chosen = param === null ? all : param.split(',').filter((m) => m !== '');
  const ready = param !== null || all.length > 0 || meshError !== null;
  const q = useQuery<CheckData>(CheckQuery, { design: design.name, meshes: chosen }, ready);
  const toggle = (mesh: string, on: boolean) => {
    const next = all.filter((m) => (m === mesh ? on : chosen.includes(m)));
    navigate(designPath(design.name, 'check', { meshes: next.join(',') }), true);
  };
  const c = q.data?.check;
  const active = c?.findings.filter((f) => !f.suppressed) ?? [];
  const suppressed = c?.findings.filter((f) => f.suppressed) ?? [];
  return (
    <section aria-labelledby="check-title">
      <h2 id="check-title">Policy findings for revision {design.headRevision}</h2>
      <ErrorBox error={meshError} />
      <fieldset className="meshes">
        <legend>Also check the generated objects of</legend>
        {all.map((m) => (
          <label key={m} className="check">
            <input type="checkbox" checked={chosen.includes(m)} onChange={(e) => toggle(m, e.target.checked)} /> {m}
          </label>
        ))}
      </fieldset>
      <ErrorBox error={q.error} />
      {!c && q.loading && <Loading what="policy findings" />}
      {c && (
        <>
          <p className="muted">Checked the design{c.meshes.length > 0 ? ` and the objects generated for ${c.meshes.join(', ')}` : ' rules only'}.</p>
          {active.length === 0 ? (
            <p role="status">No findings.</p>
          ) : (
            <table className="list" aria-label="Policy findings">
              <thead>
                <tr>
                  <th scope="col">Severity</th>
                  <th scope="col">Rule</th>
                  <th scope="col">Finding</th>
                  <th scope="col">Where</th>
                  <th scope="col">Remedy</th>
                </tr>
              </thead>
              <tbody>
                {active.map((f, i) => (
                  <tr key={i} className={`sev-${f.severity}`}>
                    <td>{f.severity}</td>
                    <td>
                      <code>{f.rule}</code>
                    </td>
                    <td>
                      <strong>{f.title}</strong>
                      <div>{f.message}</div>
                    </td>
                    <td>
                      <code>{f.path}</code>
                      {f.mesh && <div className="muted">{f.mesh}{f.object ? `: ${f.object}` : ''}</div>}
                    </td>
                    <td>{f.remedy}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {suppressed.length > 0 && (
            <details>
              <summary>{suppressed.length} suppressed finding(s)</summary>
              <ul>
                {suppressed.map((f, i) => (
                  <li key={i}>
                    <code>{f.rule}</code> {f.path}: {f.suppressReason}
                  </li>
                ))}
              </ul>
            </details>
          )}
          <h3>Translation warnings</h3>
          <Warnings warnings={c.warnings} />
        </>
      )}
    </section>
  );
}
