// The capability matrix: features × meshes.
import { CapabilitiesQuery } from '../api';
import type { CapabilityData } from '../api';
import { useQuery } from '../session';
import { ErrorBox, Loading } from '../widgets';

const supportLabel: Record<string, string> = { native: 'Native', partial: 'Partial', unsupported: 'Unsupported' };

/** Capabilities shows how every registered mesh supports every feature. */
export function Capabilities() {
  const q = useQuery<CapabilityData>(CapabilitiesQuery, {});
  const m = q.data?.capabilities;
  return (
    <main id="main">
      <h1>Capability matrix</h1>
      <p className="muted">How each mesh adapter expresses each design feature. Partial and unsupported features produce translation warnings.</p>
      <ErrorBox error={q.error} />
      {!m && q.loading && <Loading what="capabilities" />}
      {m && (
        <div className="scroll">
          <table className="matrix" aria-label="Capability matrix">
            <thead>
              <tr>
                <th scope="col">Feature</th>
                {m.meshes.map((mesh) => (
                  <th scope="col" key={mesh}>
                    {mesh}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {m.rows.map((r) => (
                <tr key={r.feature} data-feature={r.feature}>
                  <th scope="row">
                    <span className="feature-title">{r.title}</span>
                    <code className="feature-field">{r.field}</code>
                  </th>
                  {m.meshes.map((mesh) => {
                    const c = r.meshes.find((x) => x.mesh === mesh);
                    const s = c?.support ?? 'unsupported';
                    return (
                      <td key={mesh} className={`support support-${s}`} data-mesh={mesh} data-support={s}>
                        <span className="badge">{supportLabel[s] ?? s}</span>
                        {c?.note && <span className="note">{c.note}</span>}
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}
