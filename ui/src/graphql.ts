// A small GraphQL-over-HTTP client for the Trellis API with typed errors.

/** One error of a GraphQL response. */
export interface GraphQLErrorEntry {
  message: string;
  path?: (string | number)[];
  extensions?: Record<string, unknown> & { code?: string };
}

/** Error codes the server puts in extensions.code (plus client-side ones). */
export type ErrorCode =
  | 'INVALID_DESIGN'
  | 'CONFLICT'
  | 'NOT_FOUND'
  | 'FORBIDDEN'
  | 'UNAUTHENTICATED'
  | 'BAD_INPUT'
  | 'INTERNAL'
  | 'NETWORK'
  | 'HTTP'
  | string;

/** ApiError is a failed GraphQL request: the first error's code, message and extensions. */
export class ApiError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly errors: GraphQLErrorEntry[];
  readonly extensions: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, status: number, errors: GraphQLErrorEntry[]) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    this.errors = errors;
    this.extensions = errors[0]?.extensions ?? {};
  }

  /** True when the token is missing, unknown or revoked. */
  get unauthenticated(): boolean {
    return this.code === 'UNAUTHENTICATED' || this.status === 401;
  }
}

/** The fetch signature the client needs (injectable for tests). */
export type Fetcher = (input: string, init: RequestInit) => Promise<Response>;

/** Explains an ApiError for people, with what to do next. */
export function describeError(err: unknown): string {
  if (!(err instanceof ApiError)) {
    return err instanceof Error ? err.message : String(err);
  }
  if (err.unauthenticated) {
    return 'The API token was rejected (401 Unauthorized): it is unknown or has been deleted. Sign in with a valid token.';
  }
  switch (err.code) {
    case 'FORBIDDEN':
      return `Not allowed: ${err.message}. Ask an admin for a token with the EDITOR role.`;
    case 'NETWORK':
      return `Cannot reach the Trellis server: ${err.message}`;
    default:
      return err.message;
  }
}

/**
 * Parses a GraphQL HTTP response into data, throwing ApiError for transport errors, non-JSON
 * bodies and GraphQL errors (the first error's extensions.code becomes the error's code).
 */
export async function parseResponse<T>(res: Response): Promise<T> {
  let body: { data?: T | null; errors?: GraphQLErrorEntry[] } | undefined;
  const text = await res.text();
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  const errors = body?.errors ?? [];
  if (errors.length > 0) {
    const first = errors[0];
    const code = first.extensions?.code ?? (res.status === 401 ? 'UNAUTHENTICATED' : 'HTTP');
    const message = errors.length > 1 ? `${first.message} (and ${errors.length - 1} more error(s))` : first.message;
    throw new ApiError(code, message, res.status, errors);
  }
  if (!res.ok) {
    const code = res.status === 401 ? 'UNAUTHENTICATED' : res.status === 403 ? 'FORBIDDEN' : 'HTTP';
    throw new ApiError(code, `HTTP ${res.status} ${res.statusText}`.trim(), res.status, []);
  }
  if (body === undefined || body.data === undefined || body.data === null) {
    throw new ApiError('HTTP', 'the server returned no data', res.status, []);
  }
  return body.data;
}

/** Client sends GraphQL operations to one endpoint with one bearer token. */
export class Client {
  constructor(
    readonly endpoint: string,
    readonly token: string,
    private readonly fetcher: Fetcher = (i, init) => fetch(i, init),
  ) {}

  /** Runs query with variables and returns its data; throws ApiError. */
  async request<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    let res: Response;
    try {
      res = await this.fetcher(this.endpoint, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json',
          Authorization: `Bearer ${this.token}`,
        },
        body: JSON.stringify({ query, variables }),
      });
    } catch (e) {
      throw new ApiError('NETWORK', e instanceof Error ? e.message : String(e), 0, []);
    }
    return parseResponse<T>(res);
  }
}
