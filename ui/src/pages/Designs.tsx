// The designs list, paginated through the GraphQL connection and refreshed on live changes.
import { useEffect } from 'react';
import { DesignsQuery } from '../api';
import type { DesignsData } from '../api';
import { designPath, navigate } from '../router';
import { useQuery, useSession } from '../session';
import { ErrorBox, Link, Loading, formatTime } from '../widgets';

/** PageSize is the number of designs per page. */
export const PageSize = 20;

/** Designs lists designs with their latest revision and its author. */
export function Designs({ after, before }: { after?: string; before?: string }) {
  const { changes } = useSession();
  const vars = before ? { last: PageSize, before } : { first: PageSize, after: after ?? null };
  const q = useQuery<DesignsData>(DesignsQuery, vars);
  const reload = q.reload;
  useEffect(() => {
    if (changes > 0) reload();
  }, [changes, reload]);
  const conn = q.data?.designs;
  return (
    <main id="main">
      <h1>Designs</h1>
      <ErrorBox error={q.error} />
      {!conn && q.loading && <Loading what="designs" />}
      {conn && (
        <>
          <p className="muted">
            {conn.totalCount} design{conn.totalCount === 1 ? '' : 's'}
          </p>
          <div className="scroll">
          <table className="list" aria-label="Designs">
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Latest revision</th>
                <th scope="col">Author</th>
                <th scope="col">Message</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {conn.edges.map(({ node }) => (
                <tr key={node.name} data-design={node.name}>
                  <th scope="row">
                    <Link to={designPath(node.name)}>{node.name}</Link>
                  </th>
                  <td className="num" data-testid="revision">
                    {node.headRevision}
                  </td>
                  <td>{node.head.author}</td>
                  <td>{node.head.message}</td>
                  <td>
                    <time dateTime={node.updatedAt}>{formatTime(node.updatedAt)}</time>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          </div>
          <nav className="pager" aria-label="Pages of designs">
            <button type="button" disabled={!conn.pageInfo.hasPreviousPage || !conn.pageInfo.startCursor} onClick={() => navigate(`/?before=${encodeURIComponent(conn.pageInfo.startCursor ?? '')}`)}>
              Previous page
            </button>
            <button type="button" disabled={!conn.pageInfo.hasNextPage || !conn.pageInfo.endCursor} onClick={() => navigate(`/?after=${encodeURIComponent(conn.pageInfo.endCursor ?? '')}`)}>
              Next page
            </button>
          </nav>
        </>
      )}
    </main>
  );
}
