// The dashboard shell: sign-in gate, header navigation, live design changes and routing.
import { useCallback, useEffect, useMemo, useState } from 'react';
import { Client } from './graphql';
import { DesignChangedSubscription } from './api';
import type { DesignChange } from './api';
import { subscribe, wsURL } from './live';
import type { LiveState } from './live';
import { navigate, useRoute } from './router';
import { SessionProvider, storeToken, storedToken } from './session';
import type { Session } from './session';
import { Link } from './widgets';
import { SignIn } from './pages/SignIn';
import { Designs } from './pages/Designs';
import { DesignPage } from './pages/Design';
import { Capabilities } from './pages/Capabilities';

/** Endpoint is the GraphQL endpoint, on the same origin as the dashboard. */
export const Endpoint = '/graphql';

const liveLabels: Record<LiveState, string> = {
  connecting: 'Connecting…',
  live: 'Live',
  reconnecting: 'Reconnecting…',
  closed: 'Offline',
  unauthorized: 'Live updates refused',
};

/** App is the whole dashboard. */
export function App() {
  const route = useRoute();
  const [token, setToken] = useState<string | null>(storedToken);
  const [who, setWho] = useState<string>('');
  const [notice, setNotice] = useState<string | undefined>();
  const [changes, setChanges] = useState(0);
  const [lastChange, setLastChange] = useState<DesignChange | null>(null);
  const [live, setLive] = useState<LiveState>('connecting');

  const signOut = useCallback((reason?: string) => {
    storeToken(null);
    setToken(null);
    setNotice(reason);
  }, []);

  const client = useMemo(() => (token ? new Client(Endpoint, token) : null), [token]);

  useEffect(() => {
    if (!client) return;
    client.request<{ me: { name: string; role: string } }>('query { me { name role } }').then(
      (d) => setWho(`${d.me.name} (${d.me.role.toLowerCase()})`),
      () => {},
    );
  }, [client]);

  useEffect(() => {
    if (!token) return;
    return subscribe<{ designChanged: DesignChange }>({
      url: wsURL(Endpoint, location.href),
      token,
      query: DesignChangedSubscription,
      onData: (d) => {
        setLastChange(d.designChanged);
        setChanges((n) => n + 1);
      },
      onState: (s) => setLive(s),
    });
  }, [token]);

  useEffect(() => {
    if (!token && route.page !== 'signin') navigate('/signin', true);
  }, [token, route.page]);

  if (!token || !client) {
    return (
      <>
        <SkipLink />
        <SignIn
          endpoint={Endpoint}
          notice={notice}
          onSignedIn={(t) => {
            storeToken(t);
            setNotice(undefined);
            setToken(t);
            navigate('/', true);
          }}
        />
      </>
    );
  }

  const session: Session = { client, changes, lastChange, signOut };
  let page;
  switch (route.page) {
    case 'signin':
    case 'designs':
      page = <Designs after={route.page === 'designs' ? route.after : undefined} before={route.page === 'designs' ? route.before : undefined} />;
      break;
    case 'design':
      page = <DesignPage name={route.name} tab={route.tab} params={route.params} />;
      break;
    case 'capabilities':
      page = <Capabilities />;
      break;
    default:
      page = (
        <main id="main">
          <h1>Page not found</h1>
          <p>
            Nothing lives at <code>{route.path}</code>. <Link to="/">Go to the designs</Link>.
          </p>
        </main>
      );
  }
  return (
    <SessionProvider session={session}>
      <SkipLink />
      <header className="top">
        <Link to="/" className="brand">
          Trellis
        </Link>
        <nav aria-label="Main">
          <Link to="/" ariaCurrent={route.page === 'designs'}>
            Designs
          </Link>
          <Link to="/capabilities" ariaCurrent={route.page === 'capabilities'}>
            Capabilities
          </Link>
        </nav>
        <span className={`live live-${live}`} data-live={live} title="Live design updates over graphql-ws">
          {liveLabels[live]}
        </span>
        <span className="who">{who}</span>
        <button type="button" className="secondary" onClick={() => signOut('You signed out.')}>
          Sign out
        </button>
      </header>
      <div className="visually-hidden" aria-live="polite" data-testid="announcer">
        {lastChange && `${lastChange.name} ${lastChange.kind === 'SAVED' ? `saved as revision ${lastChange.revision}` : 'deleted'} by ${lastChange.actor}`}
      </div>
      {page}
    </SessionProvider>
  );
}

function SkipLink() {
  return (
    <a className="skip" href="#main">
      Skip to content
    </a>
  );
}
