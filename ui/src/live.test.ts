import { describe, expect, it } from 'vitest';
import { Protocol, subscribe, wsURL } from './live';
import type { LiveState, SocketLike } from './live';

class FakeSocket implements SocketLike {
  readyState = 0;
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  sent: Record<string, unknown>[] = [];
  closed = false;
  constructor(readonly url: string, readonly protocol: string) {}
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.closed = true;
  }
  receive(m: unknown) {
    this.onmessage?.({ data: JSON.stringify(m) });
  }
}

describe('subscribe', () => {
  it('speaks graphql-transport-ws: init with the token, subscribe after ack, pong, data', () => {
    const sockets: FakeSocket[] = [];
    const data: unknown[] = [];
    const states: LiveState[] = [];
    const stop = subscribe({
      url: 'ws://h/graphql',
      token: 'tok',
      query: 'subscription { designChanged { name } }',
      onData: (d) => data.push(d),
      onState: (s) => states.push(s),
      socket: (u, p) => {
        const s = new FakeSocket(u, p);
        sockets.push(s);
        return s;
      },
    });
    const s = sockets[0];
    expect(s.protocol).toBe(Protocol);
    s.onopen?.({});
    expect(s.sent[0]).toEqual({ type: 'connection_init', payload: { Authorization: 'Bearer tok' } });
    s.receive({ type: 'connection_ack' });
    expect(s.sent[1]).toMatchObject({ type: 'subscribe', id: '1', payload: { query: 'subscription { designChanged { name } }' } });
    s.receive({ type: 'ping' });
    expect(s.sent[2]).toEqual({ type: 'pong' });
    s.receive({ type: 'next', id: '1', payload: { data: { designChanged: { name: 'a' } } } });
    expect(data).toEqual([{ designChanged: { name: 'a' } }]);
    stop();
    expect(s.sent[3]).toEqual({ id: '1', type: 'complete' });
    expect(s.closed).toBe(true);
    expect(states).toEqual(['connecting', 'live', 'closed']);
  });

  it('reconnects after a drop and stops on an authentication failure', async () => {
    const sockets: FakeSocket[] = [];
    const states: LiveState[] = [];
    subscribe({
      url: 'ws://h/graphql',
      token: 'tok',
      query: 'subscription { x }',
      onData: () => {},
      onState: (s) => states.push(s),
      backoff: () => 0,
      socket: (u, p) => {
        const s = new FakeSocket(u, p);
        sockets.push(s);
        return s;
      },
    });
    sockets[0].onopen?.({});
    sockets[0].receive({ type: 'connection_ack' });
    sockets[0].onclose?.({ code: 1006, reason: '' });
    await new Promise((r) => setTimeout(r, 5));
    expect(sockets).toHaveLength(2);
    sockets[1].onclose?.({ code: 4403, reason: 'Forbidden' });
    await new Promise((r) => setTimeout(r, 5));
    expect(sockets).toHaveLength(2);
    expect(states).toEqual(['connecting', 'live', 'reconnecting', 'reconnecting', 'unauthorized']);
  });

  it('builds ws URLs from the page URL', () => {
    expect(wsURL('/graphql', 'http://127.0.0.1:8080/designs/x')).toBe('ws://127.0.0.1:8080/graphql');
    expect(wsURL('/graphql', 'https://trellis.example/')).toBe('wss://trellis.example/graphql');
  });
});
