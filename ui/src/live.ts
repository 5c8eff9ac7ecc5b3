// A minimal graphql-transport-ws client for one subscription, reconnecting with backoff.

/** Messages of the graphql-transport-ws protocol this client handles. */
interface Message {
  type: string;
  id?: string;
  payload?: unknown;
}

/** The subset of WebSocket the client uses (injectable for tests). */
export interface SocketLike {
  readyState: number;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

/** Connection states reported to the caller. */
export type LiveState = 'connecting' | 'live' | 'reconnecting' | 'closed' | 'unauthorized';

/** Options of subscribe. */
export interface SubscribeOptions<T> {
  url: string;
  token: string;
  query: string;
  variables?: Record<string, unknown>;
  onData: (data: T) => void;
  onState?: (state: LiveState, detail?: string) => void;
  socket?: (url: string, protocol: string) => SocketLike;
  /** Delay before reconnect attempt n (0-based), in ms. */
  backoff?: (attempt: number) => number;
}

/** Protocol is the websocket subprotocol spoken. */
export const Protocol = 'graphql-transport-ws';

/** Converts an http(s) URL or a path into the matching ws(s) URL of the current page. */
export function wsURL(path: string, base: string): string {
  const u = new URL(path, base);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

/**
 * Subscribes and keeps the subscription alive across disconnects; the returned function ends it.
 * Authentication failures (close code 4403/4401 or an error before the ack) stop reconnecting.
 */
export function subscribe<T>(opts: SubscribeOptions<T>): () => void {
  const open = opts.socket ?? ((url: string, protocol: string) => new WebSocket(url, protocol) as unknown as SocketLike);
  const backoff = opts.backoff ?? ((n: number) => Math.min(30000, 500 * 2 ** n));
  let stopped = false;
  let attempt = 0;
  let sock: SocketLike | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const state = (s: LiveState, d?: string) => opts.onState?.(s, d);

  const connect = () => {
    if (stopped) return;
    state(attempt === 0 ? 'connecting' : 'reconnecting');
    const s = open(opts.url, Protocol);
    sock = s;
    let acked = false;
    const send = (m: Message) => s.send(JSON.stringify(m));
    s.onopen = () => send({ type: 'connection_init', payload: { Authorization: `Bearer ${opts.token}` } });
    s.onmessage = (ev) => {
      let m: Message;
      try {
        m = JSON.parse(String(ev.data));
      } catch {
        return;
      }
      switch (m.type) {
        case 'connection_ack':
          acked = true;
          attempt = 0;
          state('live');
          send({ id: '1', type: 'subscribe', payload: { query: opts.query, variables: opts.variables ?? {} } });
          break;
        case 'ping':
          send({ type: 'pong' });
          break;
        case 'next': {
          const p = m.payload as { data?: T; errors?: unknown } | undefined;
          if (p?.data) opts.onData(p.data);
          break;
        }
        case 'error':
          state('closed', JSON.stringify(m.payload));
          break;
      }
    };
    s.onerror = () => {};
    s.onclose = (ev) => {
      if (sock === s) sock = null;
      if (stopped) return;
      if (ev.code === 4401 || ev.code === 4403 || (!acked && /unauthenticated/i.test(ev.reason))) {
        stopped = true;
        state('unauthorized', ev.reason);
        return;
      }
      state('reconnecting', ev.reason);
      timer = setTimeout(connect, backoff(attempt++));
    };
  };
  connect();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    if (sock) {
      try {
        sock.send(JSON.stringify({ id: '1', type: 'complete' }));
      } catch {
        /* already closing */
      }
      sock.close(1000, 'done');
    }
    state('closed');
  };
}
