// The sign-in page: an API token, checked against the server before it is stored.
import { useEffect, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import { Client, describeError } from '../graphql';
import { MeQuery } from '../api';
import type { MeData } from '../api';

/** SignIn asks for an API token and calls onSignedIn once the server accepts it. */
export function SignIn({ endpoint, notice, onSignedIn }: { endpoint: string; notice?: string; onSignedIn: (token: string, me: MeData['me']) => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => input.current?.focus(), []);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const t = token.trim();
    if (!t) {
      setError('Enter an API token.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const data = await new Client(endpoint, t).request<MeData>(MeQuery);
      onSignedIn(t, data.me);
    } catch (err) {
      setError(describeError(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" className="signin">
      <h1>Sign in to Trellis</h1>
      {notice && !error && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      <form onSubmit={submit} aria-describedby="token-help">
        <label htmlFor="token">API token</label>
        <input
          id="token"
          ref={input}
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={token}
          onChange={(e) => setToken(e.target.value)}
          aria-invalid={error ? true : undefined}
          aria-errormessage={error ? 'signin-error' : undefined}
        />
        <p id="token-help" className="muted">
          The first start of <code>trellis serve</code> prints the admin token and saves it to <code>~/.trellis/admin-token</code>; <code>trellis token create</code> makes more. The token is kept in this browser tab only (session storage).
        </p>
        {error && (
          <p id="signin-error" className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
