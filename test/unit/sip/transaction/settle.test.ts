import { describe, it, expect } from 'vitest';
import { harness, inbound, isMethod, PEER, recordingHandler, request, response, TCP_PEER } from './harness.js';

/**
 * settle(): at shutdown the layer keeps running until the BYEs (and CANCELs) just sent are answered,
 * or Timer F / the grace ends them; what is left unanswered is logged with its call-id and counted.
 */
describe('settle (shutdown waits for the non-INVITE client transactions in flight, and for CANCELled INVITEs\' 487)', () => {
  it('resolves once every BYE has its final; a dropped BYE is retransmitted (Timer E) meanwhile', async () => {
    const { layer, clock, sender, logs } = harness();
    const answered = request('BYE', { branch: 'z9hG4bKone', callId: 'one@x' });
    const dropped = request('BYE', { branch: 'z9hG4bKtwo', callId: 'two@x' });
    layer.sendRequest(answered, PEER, recordingHandler());
    layer.sendRequest(dropped, PEER, recordingHandler());
    let result: unknown;
    void layer.settle(5000).then((left) => (result = left));
    layer.receive(inbound(response(answered, 200)));
    clock.advance(500); // Timer E: the second BYE again, at T1
    await Promise.resolve();
    expect(result).toBeUndefined();
    expect(sender.of(isMethod('BYE')).length).toBe(3);
    layer.receive(inbound(response(dropped, 200)));
    clock.advance(20); // the next look
    await Promise.resolve();
    expect(result).toEqual([]);
    expect(layer.counters.abandoned).toBe(0);
    expect(logs.find((l) => l.msg === 'shutdown: done waiting for the requests in flight')).toMatchObject({ inFlight: 2, unanswered: 0, waitedMs: 520 });
  });

  it('gives up after the grace: resolves with the unanswered ones, logs each with its call-id, counts them', async () => {
    const { layer, clock, logs } = harness();
    const bye = request('BYE', { branch: 'z9hG4bKlost', callId: 'lost@x' });
    layer.sendRequest(bye, PEER, recordingHandler());
    let result: { id: string }[] | undefined;
    void layer.settle(1000).then((left) => (result = left));
    clock.advance(980);
    await Promise.resolve();
    expect(result).toBeUndefined();
    clock.advance(20);
    await Promise.resolve();
    expect(result?.map((t) => t.id)).toEqual(['z9hG4bKlost|BYE']);
    expect(layer.counters.abandoned).toBe(1);
    const line = logs.find((l) => l.msg === 'shutdown: no final response within the grace; giving up on it');
    expect(line).toMatchObject({ callId: 'lost@x', method: 'BYE', to: 'udp:127.0.0.1:5070', level: 40 });
  });

  it('Timer F before the grace: the transaction ends (the TU hears a timeout) and settle resolves with nothing left', async () => {
    const { layer, clock } = harness({ t1: 10 });
    const h = recordingHandler();
    layer.sendRequest(request('BYE', { branch: 'z9hG4bKf' }), PEER, h);
    let result: unknown;
    void layer.settle(5000).then((left) => (result = left));
    clock.advance(640); // 64*T1
    clock.advance(20);
    await Promise.resolve();
    expect(h.events).toEqual(['timeout']);
    expect(result).toEqual([]);
    expect(layer.counters.abandoned).toBe(0);
  });

  it('waits for nothing else: no client transaction, an INVITE, a completed BYE lingering in Timer K, a grace of 0', async () => {
    const { layer } = harness();
    expect(await layer.settle(5000)).toEqual([]);
    layer.sendRequest(request('INVITE', { branch: 'z9hG4bKinv' }), PEER, recordingHandler());
    const bye = request('BYE', { branch: 'z9hG4bKdone' });
    layer.sendRequest(bye, PEER, recordingHandler());
    layer.receive(inbound(response(bye, 481)));
    expect(await layer.settle(5000)).toEqual([]);
    layer.sendRequest(request('BYE', { branch: 'z9hG4bKtcp' }), TCP_PEER, recordingHandler());
    expect((await layer.settle(0)).map((t) => t.id)).toEqual(['z9hG4bKtcp|BYE']);
  });

  it('a CANCELled INVITE is waited for until its 487 comes and is ACKed, though its CANCEL was answered first', async () => {
    const { layer, clock, sender, logs } = harness();
    const invite = request('INVITE', { branch: 'z9hG4bKcxl', callId: 'cxl@x' });
    const h = recordingHandler();
    layer.sendRequest(invite, PEER, h);
    layer.receive(inbound(response(invite, 180)));
    const cancel = request('CANCEL', { branch: 'z9hG4bKcxl', callId: 'cxl@x' });
    layer.sendRequest(cancel, PEER, recordingHandler());
    let result: unknown;
    void layer.settle(5000).then((left) => (result = left));
    layer.receive(inbound(response(cancel, 200)));
    clock.advance(1000);
    await Promise.resolve();
    // The CANCEL has its answer; the INVITE still owes the callee an ACK for the 487 to come.
    expect(result).toBeUndefined();
    expect(sender.of(isMethod('ACK'))).toHaveLength(0);
    layer.receive(inbound(response(invite, 487)));
    expect(sender.of(isMethod('ACK'))).toHaveLength(1);
    clock.advance(20);
    await Promise.resolve();
    expect(result).toEqual([]);
    expect(h.events).toEqual(['provisional 180', 'final 487']);
    expect(layer.counters.abandoned).toBe(0);
    expect(logs.find((l) => l.msg === 'shutdown: done waiting for the requests in flight')).toMatchObject({ inFlight: 2, unanswered: 0, waitedMs: 1020 });
  });

  it('a CANCELled INVITE whose 487 never comes: given up after the grace, logged with its call-id, counted', async () => {
    const { layer, clock, logs } = harness();
    const invite = request('INVITE', { branch: 'z9hG4bKmute', callId: 'mute@x' });
    layer.sendRequest(invite, PEER, recordingHandler());
    layer.receive(inbound(response(invite, 183)));
    const cancel = request('CANCEL', { branch: 'z9hG4bKmute', callId: 'mute@x' });
    layer.sendRequest(cancel, PEER, recordingHandler());
    layer.receive(inbound(response(cancel, 200)));
    let result: { id: string }[] | undefined;
    void layer.settle(1000).then((left) => (result = left));
    clock.advance(980);
    await Promise.resolve();
    expect(result).toBeUndefined();
    clock.advance(20);
    await Promise.resolve();
    expect(result?.map((t) => t.id)).toEqual(['z9hG4bKmute|INVITE']);
    expect(layer.counters.abandoned).toBe(1);
    const line = logs.find((l) => l.msg === 'shutdown: no final response within the grace; giving up on it');
    expect(line).toMatchObject({ callId: 'mute@x', method: 'INVITE', to: 'udp:127.0.0.1:5070', level: 40 });
  });

  it('a CANCELled INVITE that §9.1 destroys (64*T1 after the CANCEL) ends the wait before the grace', async () => {
    const { layer, clock } = harness({ t1: 10 });
    const invite = request('INVITE', { branch: 'z9hG4bKgone' });
    const h = recordingHandler();
    layer.sendRequest(invite, PEER, h);
    layer.receive(inbound(response(invite, 180)));
    const cancel = request('CANCEL', { branch: 'z9hG4bKgone' });
    layer.sendRequest(cancel, PEER, recordingHandler());
    layer.receive(inbound(response(cancel, 200)));
    let result: unknown;
    void layer.settle(5000).then((left) => (result = left));
    clock.advance(640);
    clock.advance(20);
    await Promise.resolve();
    expect(h.events).toEqual(['provisional 180', 'timeout']);
    expect(result).toEqual([]);
    expect(layer.counters.abandoned).toBe(0);
  });

  it('an INVITE nobody CANCELled, or one whose 487 came before, is not waited for', async () => {
    const { layer } = harness();
    const ringing = request('INVITE', { branch: 'z9hG4bKring' });
    layer.sendRequest(ringing, PEER, recordingHandler());
    layer.receive(inbound(response(ringing, 180)));
    const done = request('INVITE', { branch: 'z9hG4bKdone487' });
    layer.sendRequest(done, PEER, recordingHandler());
    layer.receive(inbound(response(done, 180)));
    const cancel = request('CANCEL', { branch: 'z9hG4bKdone487' });
    layer.sendRequest(cancel, PEER, recordingHandler());
    layer.receive(inbound(response(cancel, 200)));
    layer.receive(inbound(response(done, 487)));
    expect(await layer.settle(0)).toEqual([]);
    expect(layer.counters.abandoned).toBe(0);
  });

  it('a provisional does not end the wait; close() does', async () => {
    const { layer, clock } = harness();
    const bye = request('BYE', { branch: 'z9hG4bKprov' });
    layer.sendRequest(bye, PEER, recordingHandler());
    let result: unknown;
    void layer.settle(5000).then((left) => (result = left));
    layer.receive(inbound(response(bye, 100)));
    clock.advance(40);
    await Promise.resolve();
    expect(result).toBeUndefined();
    // close() (a second signal's hard stop) drops every transaction: nothing is left to wait for.
    layer.close();
    clock.advance(20);
    await Promise.resolve();
    expect(result).toEqual([]);
  });
});
