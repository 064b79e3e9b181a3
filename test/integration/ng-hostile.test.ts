import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { pino } from 'pino';
import { startTestTandem, tandemPerFile, type TestTandem } from '../helpers/tandem.js';
import { RawNg } from '../helpers/ng.js';
import { NgServer } from '../../src/control/ng-server.js';
import type { BDict } from '../../src/control/bencode.js';

/**
 * Issue 10, "Hostile peers", defect 7: the ng port attacked from other sources on loopback.
 * Every test performs the attack against a real Tandem over UDP on 127.0.0.0/8.
 */

function sdp(mLines: number, basePort: number): string {
  const lines = ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0'];
  for (let i = 0; i < mLines; i++) lines.push(`m=audio ${basePort + 2 * i} RTP/AVP 0`, 'a=rtpmap:0 PCMU/8000', 'a=sendrecv');
  return lines.join('\r\n') + '\r\n';
}

/** Collects every datagram a socket receives, so "nothing arrived" can be checked after a positive control. */
function inbox(ng: RawNg): Buffer[] {
  const got: Buffer[] = [];
  ng.socket.on('message', (m) => got.push(m));
  return got;
}

/** Lets pending 'message' events of loopback sockets run. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('ng port: replies belong to the source that asked', () => {
  // 50 m= lines per call (above the default cap of 16) make a reply too large for a datagram.
  const tandem = tandemPerFile({ maxMediaPerCall: 64 });
  let attacker: RawNg;
  beforeAll(async () => {
    attacker = await new RawNg(tandem.env.t.ngAddress.port).open();
  });
  afterAll(() => attacker.close());

  it("another source sending a client's cookie gets its own answer, not the client's cached reply", async () => {
    const { ng, t } = tandem.env;
    const offer = RawNg.frame('victim-1', { command: 'offer', 'call-id': 'hostile-read', 'from-tag': 'a', sdp: sdp(1, 20000) });
    const first = await ng.sendRaw(offer);
    expect(RawNg.parse(first).dict.result).toBe('ok');
    // The attacker replays the cookie with a command of its own: it must run, and say nothing about the call.
    const stolen = RawNg.parse(await attacker.sendRaw(RawNg.frame('victim-1', { command: 'ping' })));
    expect(stolen.cookie).toBe('victim-1');
    expect(stolen.dict).toEqual({ result: 'pong' });
    // The victim's own retransmission still gets its cached reply, byte for byte (the offer ran once).
    const before = t.ng.counters.retransmissions;
    expect((await ng.sendRaw(offer)).equals(first)).toBe(true);
    expect(t.ng.counters.retransmissions).toBe(before + 1);
  });

  it("a cookie sent first from elsewhere cannot pre-empt a client's command: the command still runs", async () => {
    const { ng } = tandem.env;
    expect(RawNg.parse(await attacker.sendRaw(RawNg.frame('victim-2', { command: 'ping' }))).dict).toEqual({ result: 'pong' });
    const r = RawNg.parse(await ng.sendRaw(RawNg.frame('victim-2', { command: 'offer', 'call-id': 'hostile-preempt', 'from-tag': 'a', sdp: sdp(1, 20100) })));
    expect(r.dict.result).toBe('ok');
    expect(String(r.dict.sdp)).toMatch(/^m=audio \d+ RTP\/AVP 0/m);
    expect((await ng.request({ command: 'list' })).calls).toContain('hostile-preempt');
  });

  it('a reply too large for a datagram is answered with an error naming its size, and retransmissions get the same', async () => {
    const { ng, t } = tandem.env;
    // 50 m= lines: a 36-byte query would be answered with ~69 KB of stats, more than UDP carries.
    expect((await ng.request({ command: 'offer', 'call-id': 'hostile-big', 'from-tag': 'a', sdp: sdp(50, 20200) })).result).toBe('ok');
    expect((await ng.request({ command: 'answer', 'call-id': 'hostile-big', 'from-tag': 'a', 'to-tag': 'b', sdp: sdp(50, 20400) })).result).toBe('ok');
    const query = RawNg.frame('big-query', { command: 'query', 'call-id': 'hostile-big' });
    const first = await ng.sendRaw(query);
    const r = RawNg.parse(first);
    expect(r.dict.result).toBe('error');
    const size = Number(/^reply too large \((\d+) bytes\)$/.exec(String(r.dict['error-reason']))?.[1]);
    expect(size).toBeGreaterThan(65507);
    expect(first.length).toBeLessThan(100); // the error path reflects nothing big
    expect((await ng.sendRaw(query)).equals(first)).toBe(true);
    expect(t.ng.counters.replyTooLarge).toBe(1);
    // A query that fits is still answered in full (rtpengine answers them too).
    const small = await ng.request({ command: 'query', 'call-id': 'hostile-read' });
    expect(small.result).toBe('ok');
    expect(small.tags).toBeDefined();
  });

  it('an error reason never echoes a large request back', async () => {
    const r = await tandem.env.ng.request({ command: 'x'.repeat(20_000) });
    expect(r.result).toBe('error');
    expect(String(r['error-reason']).length).toBeLessThan(400);
    expect(String(r['error-reason'])).toMatch(/^Unrecognized command 'xxx.*… \(\d+ characters\)$/);
  });

  it('one cached reply is sent at most maxResends (10) times; a new cookie is still answered', async () => {
    const { ng, t } = tandem.env;
    const ping = RawNg.frame('resend-1', { command: 'ping' });
    for (let i = 0; i < 11; i++) expect(RawNg.parse(await ng.sendRaw(ping)).cookie).toBe('resend-1');
    const got = inbox(ng);
    ng.socket.send(ping, t.ngAddress.port, '127.0.0.1'); // the 12th: refused
    const control = RawNg.parse(await ng.sendRaw(RawNg.frame('resend-2', { command: 'ping' })));
    await settle();
    expect(control.cookie).toBe('resend-2');
    expect(got.map((m) => RawNg.parse(m).cookie)).toEqual(['resend-2']);
    expect(t.ng.counters.resendsRefused).toBe(1);
  });
});

describe('ng port: --ng-allow', () => {
  let env: TestTandem;
  let allowed: RawNg;
  beforeAll(async () => {
    env = await startTestTandem({ ngAllow: ['127.0.0.2', '10.0.0.0/8'] });
    allowed = await new RawNg(env.t.ngAddress.port, '127.0.0.2').open();
  });
  afterAll(async () => {
    allowed.close();
    await env.close();
  });

  it('drops a source outside the list unread and counts it; an allowed source sending the same is answered', async () => {
    const denied = env.ng; // bound to 127.0.0.1, not in the list
    const got = inbox(denied);
    const datagram = RawNg.frame('allow-1', { command: 'ping' });
    denied.socket.send(datagram, env.t.ngAddress.port, '127.0.0.1');
    denied.socket.send(Buffer.from('allow-2 junk'), env.t.ngAddress.port, '127.0.0.1');
    const r = RawNg.parse(await allowed.sendRaw(datagram));
    await settle();
    expect(r.dict).toEqual({ result: 'pong' });
    expect(got).toEqual([]);
    expect(env.t.ng.stats()).toMatchObject({ denied: 2, malformed: 0, requests: 1 });
  });
});

describe('ng port: limits and log flooding', () => {
  const tandem = tandemPerFile();
  let server: NgServer;
  let client: RawNg;
  const lines: BDict[] = [];
  beforeAll(async () => {
    const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as BDict) });
    server = new NgServer({ address: '127.0.0.1', port: 0, context: { media: tandem.env.t.media }, log, limits: { maxRequestBytes: 30_000 } });
    client = await new RawNg((await server.listen()).port).open();
  });
  afterAll(async () => {
    client.close();
    await server.close();
  });

  it('refuses a request over maxRequestBytes with an error naming the size, unparsed', async () => {
    const huge = RawNg.frame('huge-1', { command: 'ping', pad: 'x'.repeat(40_000) });
    const r = RawNg.parse(await client.sendRaw(huge));
    expect(r.cookie).toBe('huge-1');
    expect(r.dict).toEqual({ result: 'error', 'error-reason': `request too large (${huge.length} bytes, limit 30000)`, 'error-code': 'TOO_LARGE' });
    expect(await client.request({ command: 'ping' })).toEqual({ result: 'pong' });
    expect(server.stats()).toMatchObject({ requestTooLarge: 1, malformed: 0 });
  });

  it('answers a request of tens of thousands of bencode values with an error naming the cap, and keeps serving', async () => {
    const flood = Buffer.concat([Buffer.from('flood-1 d7:command4:ping3:padl'), Buffer.from('le'.repeat(12_000)), Buffer.from('ee')]);
    // From 127.0.0.3, so its log line does not count against the next test's source.
    const other = await new RawNg(client.port, '127.0.0.3').open();
    const r = RawNg.parse(await other.sendRaw(flood).finally(() => other.close()));
    expect(r.cookie).toBe('flood-1');
    expect(r.dict.result).toBe('error');
    expect(String(r.dict['error-reason'])).toMatch(/more than 10000 elements/);
    expect(await client.request({ command: 'ping' })).toEqual({ result: 'pong' });
  });

  it('logs a flood of junk from one source once (then once per 10 s, with the suppressed count), but counts all of it', async () => {
    const before = server.counters.malformed;
    for (let i = 0; i < 50; i++) await client.sendRaw(Buffer.from(`junk-${i} d7:command`));
    expect(server.counters.malformed - before).toBe(50);
    const mine = lines.filter((l) => l.msg === 'malformed ng message' && String(l.from).startsWith('127.0.0.1:'));
    const warned = mine.filter((l) => l.level === 40);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toHaveProperty('err');
    expect(mine.filter((l) => l.level === 20)).toHaveLength(49); // the rest at debug
  });
});
