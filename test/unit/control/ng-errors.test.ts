import { describe, it, expect, afterEach } from 'vitest';
import { ngErrorReply, ngErrorReplyFor, errorFromNgReply, clipReason } from '../../../src/control/ng-errors.js';
import { NgServer } from '../../../src/control/ng-server.js';
import { NgClient } from '../../../src/control/ng-client.js';
import { NgMediaClient } from '../../../src/control/ng-media-client.js';
import { BencodeError } from '../../../src/control/bencode.js';
import { TandemError, isTandemError } from '../../../src/common/errors.js';
import { createLogger } from '../../../src/common/log.js';
import { defaultMediaOptions, type MediaControl } from '../../../src/media/api.js';

describe('ng error replies (code → reply)', () => {
  it('carry result, error-reason and error-code', () => {
    expect(ngErrorReply('UNKNOWN_CALL', 'Unknown call-id')).toEqual({ result: 'error', 'error-reason': 'Unknown call-id', 'error-code': 'UNKNOWN_CALL' });
  });

  it('take the code of what was thrown, INTERNAL for anything not ours', () => {
    expect(ngErrorReplyFor(new TandemError('CODEC', 'no codec'))).toEqual({ result: 'error', 'error-reason': 'no codec', 'error-code': 'CODEC' });
    expect(ngErrorReplyFor(new BencodeError('bad', 3), 'cannot encode the reply: ')).toEqual({
      result: 'error', 'error-reason': 'cannot encode the reply: bencode: bad at byte 3', 'error-code': 'BENCODE',
    });
    expect(ngErrorReplyFor(new TypeError('x is undefined'))['error-code']).toBe('INTERNAL');
  });

  it('cut a long reason, saying how long it was', () => {
    expect(clipReason('a'.repeat(300))).toBe('a'.repeat(300));
    expect(clipReason('a'.repeat(301))).toBe(`${'a'.repeat(300)}… (301 characters)`);
    expect(ngErrorReply('BAD_REQUEST', 'b'.repeat(5000))['error-reason']).toHaveLength(300 + '… (5000 characters)'.length);
  });
});

describe('ng error replies read back (reply → TandemError)', () => {
  const err = (reply: Record<string, string>): TandemError => errorFromNgReply(reply, String(reply['error-reason'] ?? ''), { cmd: 'offer' });

  it('keep a catalogue code the peer sent, whatever the text says', () => {
    const e = err({ result: 'error', 'error-reason': 'no codec both sides can use', 'error-code': 'CODEC' });
    expect(e.code).toBe('CODEC');
    expect(e.message).toBe('no codec both sides can use [cmd:offer]');
  });

  it("make a code about the peer's own machinery REMOTE", () => {
    for (const c of ['INTERNAL', 'CONFIG', 'NG_TIMEOUT', 'BENCODE']) expect(err({ result: 'error', 'error-reason': 'x', 'error-code': c }).code).toBe('REMOTE');
  });

  it("read rtpengine's texts when there is no code, or one not in the catalogue", () => {
    expect(err({ result: 'error', 'error-reason': 'Unknown call-id' }).code).toBe('UNKNOWN_CALL');
    expect(err({ result: 'error', 'error-reason': 'Ran out of ports' }).code).toBe('NO_PORTS');
    expect(err({ result: 'load limit', message: 'Parallel session limit reached' }).code).toBe('LOAD_LIMIT');
    expect(err({ result: 'error', 'error-reason': 'Failed to parse SDP' }).code).toBe('BAD_SDP');
    expect(err({ result: 'error', 'error-reason': 'Unknown call-id', 'error-code': 'E_WHATEVER' }).code).toBe('UNKNOWN_CALL');
    expect(err({ result: 'error', 'error-reason': 'something else' }).code).toBe('REMOTE');
  });
});

describe('ng error codes over the wire (NgServer → NgClient / NgMediaClient)', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    while (cleanups.length) await cleanups.pop()?.();
  });

  /** A media plane whose offer throws `offerError` and whose other commands are never reached. */
  async function server(offerError: unknown): Promise<number> {
    const media = {
      offer: () => Promise.reject(offerError),
      answer: () => Promise.reject(new TandemError('UNKNOWN_CALL', 'Unknown call-id', { 'call-id': 'c1' })),
    } as unknown as MediaControl;
    const s = new NgServer({ address: '127.0.0.1', port: 0, context: { media }, log: createLogger({ level: 'silent' }) });
    const { port } = await s.listen();
    cleanups.push(() => s.close());
    return port;
  }

  async function raw(port: number, message: Record<string, string>): Promise<Record<string, unknown>> {
    const c = new NgClient({ host: '127.0.0.1', port, timeoutMs: 2000, retries: 1 });
    cleanups.push(() => c.close());
    return c.request(message);
  }

  const offer = { command: 'offer', 'call-id': 'c1', 'from-tag': 'f1', sdp: 'v=0\r\n' };

  it('a failed command, an unknown command and an unparseable message each carry their code', async () => {
    const port = await server(new TandemError('CODEC', 'no codec both sides can use'));
    expect(await raw(port, offer)).toEqual({ result: 'error', 'error-reason': 'no codec both sides can use', 'error-code': 'CODEC' });
    expect(await raw(port, { command: 'frobnicate' })).toEqual({ result: 'error', 'error-reason': "Unrecognized command 'frobnicate'", 'error-code': 'BAD_REQUEST' });
    expect(await raw(port, { 'call-id': 'c1' })).toMatchObject({ result: 'error', 'error-code': 'BAD_REQUEST' });
  });

  it('a throw that is not a TandemError is INTERNAL on the wire and REMOTE to the NgMediaClient', async () => {
    const port = await server(new TypeError('cannot read properties of undefined'));
    expect(await raw(port, offer)).toMatchObject({ 'error-code': 'INTERNAL' });
    const media = new NgMediaClient({ host: '127.0.0.1', port, timeoutMs: 2000, retries: 1 });
    cleanups.push(() => media.close());
    const e = await media.offer({ callId: 'c1', fromTag: 'f1', sdp: 'v=0\r\n', options: defaultMediaOptions() }).catch((x: unknown) => x);
    expect(isTandemError(e) && e.code).toBe('REMOTE');
  });

  it('NgMediaClient rejects with the code the server sent, where the text alone would say REMOTE', async () => {
    const port = await server(new TandemError('CODEC', 'no codec both sides can use'));
    const media = new NgMediaClient({ host: '127.0.0.1', port, timeoutMs: 2000, retries: 1 });
    cleanups.push(() => media.close());
    const e = await media.offer({ callId: 'c1', fromTag: 'f1', sdp: 'v=0\r\n', options: defaultMediaOptions() }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TandemError);
    expect((e as TandemError).code).toBe('CODEC');
    expect((e as TandemError).message).toBe('no codec both sides can use [cmd:offer]');
  });
});
