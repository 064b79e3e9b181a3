import { describe, it, expect } from 'vitest';
import { harness, inbound, PEER, recordingHandler, request, response, TCP_PEER } from './harness.js';

/**
 * RFC 3261 §18.4 / §17.1.4: the TCP/TLS connection a request went out on closes before its final
 * response. The transport tells the transaction (through the watcher it attached to that
 * connection); the TU hears a transport error at once, once, and never after a final response.
 */
const INVITE_TCP = (): ReturnType<typeof request> => request('INVITE', { transport: 'TCP' });

describe('client transaction whose connection is lost (§18.4)', () => {
  it('INVITE in Calling: a transport error at once, once; Timer B later says nothing more', () => {
    const { layer, clock, sender } = harness();
    const h = recordingHandler();
    const txn = layer.sendRequest(INVITE_TCP(), TCP_PEER, h);
    expect(sender.connection.size).toBe(1);
    expect(sender.connection.lost(TCP_PEER, undefined)).toBe(1);
    expect(h.events).toEqual(['transport error: tcp:127.0.0.1:5070 connection closed by the peer before the final response']);
    expect(txn.state).toBe('terminated');
    expect(sender.connection.lost(TCP_PEER, undefined)).toBe(0);
    clock.advance(64_000);
    expect(h.events).toHaveLength(1);
    expect(layer.counters.clientTransactions).toBe(0);
  });

  it('INVITE in Proceeding (after 180): the callee is gone, so it is a transport error too', () => {
    const { layer, sender } = harness();
    const req = INVITE_TCP();
    const h = recordingHandler();
    layer.sendRequest(req, TCP_PEER, h);
    layer.receive(inbound(response(req, 180), TCP_PEER));
    expect(sender.connection.lost(TCP_PEER, Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }))).toBe(1);
    expect(h.events).toEqual(['provisional 180', 'transport error: tcp:127.0.0.1:5070 connection failed (read ECONNRESET) before the final response']);
  });

  it('after a 2xx (Accepted) or a non-2xx (Completed) the close changes nothing: the watcher was detached', () => {
    const { layer, sender } = harness();
    const ok = INVITE_TCP();
    const busy = request('INVITE', { transport: 'TCP', branch: 'z9hG4bKbusy' });
    const h1 = recordingHandler();
    const h2 = recordingHandler();
    layer.sendRequest(ok, TCP_PEER, h1);
    layer.sendRequest(busy, TCP_PEER, h2);
    expect(sender.connection.size).toBe(2);
    layer.receive(inbound(response(ok, 200), TCP_PEER));
    layer.receive(inbound(response(busy, 486), TCP_PEER));
    expect(sender.connection.size).toBe(0);
    expect(sender.connection.lost(TCP_PEER, undefined)).toBe(0);
    expect(h1.events).toEqual(['final 200']);
    expect(h2.events).toEqual(['final 486']);
  });

  it('non-INVITE: a BYE waiting in Trying gets the transport error; one answered does not', () => {
    const { layer, sender } = harness();
    const waiting = recordingHandler();
    const answered = recordingHandler();
    const bye = request('BYE', { transport: 'TCP', branch: 'z9hG4bKbye1' });
    layer.sendRequest(request('BYE', { transport: 'TCP', branch: 'z9hG4bKbye2' }), TCP_PEER, waiting);
    layer.sendRequest(bye, TCP_PEER, answered);
    layer.receive(inbound(response(bye, 200), TCP_PEER));
    expect(sender.connection.lost(TCP_PEER, undefined)).toBe(1);
    expect(waiting.events).toHaveLength(1);
    expect(waiting.events[0]).toMatch(/^transport error: .*closed by the peer/);
    expect(answered.events).toEqual(['final 200']);
  });

  it('a transaction already ended is not attached (a connect that completes after close())', () => {
    const { layer, sender } = harness();
    const h = recordingHandler();
    layer.sendRequest(INVITE_TCP(), TCP_PEER, h);
    const watcher = sender.sent[0].watcher;
    layer.close();
    expect(sender.connection.size).toBe(0);
    if (watcher === undefined) throw new Error('no watcher');
    sender.connection.add(watcher);
    expect(sender.connection.size).toBe(0);
    expect(h.events).toEqual([]);
  });

  it('over UDP nothing is watched (positive control: over TCP the same request is)', () => {
    const { layer, sender } = harness();
    layer.sendRequest(request('INVITE'), PEER, recordingHandler());
    expect(sender.sent[0].watcher).toBeUndefined();
    layer.sendRequest(request('INVITE', { transport: 'TCP', branch: 'z9hG4bKtcp' }), TCP_PEER, recordingHandler());
    expect(sender.sent[1].watcher).toBeDefined();
  });

  it('the warning names the call-id', () => {
    const { layer, sender, logs } = harness();
    layer.sendRequest(request('INVITE', { transport: 'TCP', callId: 'lost-call@127.0.0.1' }), TCP_PEER, recordingHandler());
    sender.connection.lost(TCP_PEER, undefined);
    const line = logs.find((l) => l.msg === 'connection closed before the final response: transport error');
    expect(line).toMatchObject({ callId: 'lost-call@127.0.0.1', method: 'INVITE', state: 'calling', level: 40 });
  });
});
