import { describe, expect, it } from 'vitest';
import { ApiError, Client, describeError } from './graphql';
import type { Fetcher } from './graphql';

function respond(status: number, body: unknown, statusText = ''): Fetcher {
  return async () => new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, statusText, headers: { 'Content-Type': 'application/json' } });
}

async function failure(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ApiError);
    return e as ApiError;
  }
  throw new Error('expected the request to fail');
}

describe('Client', () => {
  it('sends the bearer token and variables and returns data', async () => {
    let seen: RequestInit | undefined;
    let url = '';
    const c = new Client('/graphql', 'tok', async (u, init) => {
      url = u;
      seen = init;
      return new Response(JSON.stringify({ data: { me: { name: 'admin' } } }), { status: 200 });
    });
    await expect(c.request('query($a: Int) { me { name } }', { a: 1 })).resolves.toEqual({ me: { name: 'admin' } });
    expect(url).toBe('/graphql');
    expect(seen?.method).toBe('POST');
    expect((seen?.headers as Record<string, string>).Authorization).toBe('Bearer tok');
    expect(JSON.parse(String(seen?.body))).toEqual({ query: 'query($a: Int) { me { name } }', variables: { a: 1 } });
  });

  it('turns the server 401 body into an unauthenticated error with a clear message', async () => {
    const c = new Client('/graphql', 'bad', respond(401, { errors: [{ message: 'unknown token', extensions: { code: 'UNAUTHENTICATED' } }] }, 'Unauthorized'));
    const e = await failure(c.request('{ me { name } }'));
    expect(e.code).toBe('UNAUTHENTICATED');
    expect(e.unauthenticated).toBe(true);
    expect(describeError(e)).toMatch(/401 Unauthorized/);
  });

  it('treats a bare 401 without a GraphQL body as unauthenticated', async () => {
    const e = await failure(new Client('/g', 't', respond(401, 'nope')).request('{ me { name } }'));
    expect(e.unauthenticated).toBe(true);
  });

  it('keeps the code and extensions of GraphQL errors (CONFLICT, INVALID_DESIGN)', async () => {
    const c = new Client('/g', 't', respond(200, { data: null, errors: [{ message: 'stale', path: ['saveDesign'], extensions: { code: 'CONFLICT', head: 3, expected: 2 } }] }));
    const e = await failure(c.request('mutation { x }'));
    expect(e.code).toBe('CONFLICT');
    expect(e.extensions.head).toBe(3);
    expect(e.message).toBe('stale');
  });

  it('mentions further errors', async () => {
    const c = new Client('/g', 't', respond(200, { errors: [{ message: 'a' }, { message: 'b' }] }));
    const e = await failure(c.request('{ x }'));
    expect(e.message).toBe('a (and 1 more error(s))');
    expect(e.code).toBe('HTTP');
    expect(e.errors).toHaveLength(2);
  });

  it('reports HTTP failures, non-JSON bodies and missing data', async () => {
    const e500 = await failure(new Client('/g', 't', respond(500, '<html>oops</html>', 'Internal Server Error')).request('{ x }'));
    expect(e500.code).toBe('HTTP');
    expect(e500.message).toBe('HTTP 500 Internal Server Error');
    const e403 = await failure(new Client('/g', 't', respond(403, '')).request('{ x }'));
    expect(e403.code).toBe('FORBIDDEN');
    const empty = await failure(new Client('/g', 't', respond(200, { data: null })).request('{ x }'));
    expect(empty.message).toBe('the server returned no data');
  });

  it('reports network failures', async () => {
    const c = new Client('/g', 't', async () => {
      throw new TypeError('Failed to fetch');
    });
    const e = await failure(c.request('{ x }'));
    expect(e.code).toBe('NETWORK');
    expect(describeError(e)).toBe('Cannot reach the Trellis server: Failed to fetch');
  });

  it('explains FORBIDDEN with the role needed', () => {
    expect(describeError(new ApiError('FORBIDDEN', 'saveDesign needs role EDITOR', 200, []))).toMatch(/EDITOR/);
    expect(describeError(new Error('plain'))).toBe('plain');
  });
});
