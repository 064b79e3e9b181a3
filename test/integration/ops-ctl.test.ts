import { describe, it, expect, afterEach } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runCtl } from '../../src/cli/ctl.js';
import { getCallId } from '../../src/sip/message.js';
import { SipPeer, sdpOffer } from '../helpers/sip-peer.js';
import { RawNg } from '../helpers/ng.js';
import { rtpPacket, patternPayload, mediaTarget } from '../helpers/rtp-peer.js';
import { OpsEnv, WAIT_MS, finalFor } from '../helpers/ops-env.js';

/** `tandem ctl` against a running Tandem's admin API; routes reloaded; call records written. */
let env: OpsEnv | undefined;
let other: SipPeer | undefined;

afterEach(async () => {
  other?.close();
  other = undefined;
  await env?.close();
  env = undefined;
});

async function ctl(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCtl([`--url=${env!.admin}`, ...args], (s) => (out += s), (s) => (err += s));
  return { code, out, err };
}

describe('tandem ctl', () => {
  it('list, show, terminate, maxsessions, bans and status, with exit codes and --json', async () => {
    env = await OpsEnv.start();
    const { callId, bInvite } = await env.call();
    const list = await ctl('list');
    expect(list.code).toBe(0);
    expect(list.out).toContain('1 call(s)');
    expect(list.out).toContain(`${callId}  b2bua  confirmed  default`);
    expect((await ctl('--limit=0', 'list')).out).toBe('0 call(s) of 1 (the first 0; --limit=N for more)\n');
    expect((await env.http('GET', '/api/calls?limit=x')).status).toBe(400);
    const json = await ctl('--json', 'list');
    expect(JSON.parse(json.out)).toMatchObject({ calls: [{ callId, kind: 'b2bua', state: 'confirmed', route: "default", from: "sip:alice@127.0.0.1", to: "sip:100@127.0.0.1" }] });

    const show = JSON.parse((await ctl('--json', 'show', callId)).out) as { media: { legs: { medias: { codec: string; streams: { localPort: number }[] }[] }[] }; quality: { packets: number } };
    expect(show.media.legs.map((l) => l.medias[0].codec)).toEqual(['PCMA/8000', 'PCMU/8000']);
    expect(show.media.legs[0].medias[0].streams[0].localPort).toBeGreaterThan(0);
    expect(show.quality.packets).toBe(0);
    // By leg B's Call-ID too.
    expect((await ctl('show', getCallId(bInvite.msg) ?? '')).code).toBe(0);

    expect(await ctl('show', 'no-such-call')).toMatchObject({ code: 1, err: 'tandem ctl: show: no call no-such-call\n' });
    expect(await ctl('maxsessions', '5')).toMatchObject({ code: 0, out: 'previous: 0\nmaxSessions: 5\n' });
    expect(env.tandem.media.admission.maxSessions).toBe(5);
    expect((await ctl('bans')).out).toBe('0 banned source(s)\n');
    expect((await ctl('status')).out).toContain('draining: false');

    // terminate: BYE to both legs.
    const bye = env.callee.next((m) => m.kind === 'request' && m.method === 'BYE', WAIT_MS);
    const aBye = env.caller.next((m) => m.kind === 'request' && m.method === 'BYE', WAIT_MS);
    expect(await ctl('terminate', callId)).toMatchObject({ code: 0, out: `terminated: ${callId}\nhow: hung up both legs\n` });
    await bye;
    await aBye;
    await expect.poll(() => env!.tandem.media.list(), { timeout: WAIT_MS }).toEqual([]);
    expect((await ctl('terminate', callId)).code).toBe(1);

    // An ng client's session (Kamailio's): listed as media, shown, and terminated by deleting it.
    const ng = await new RawNg(env.tandem.ngAddress.port).open();
    expect((await ng.request({ command: 'offer', 'call-id': 'kam-1', 'from-tag': 'f', sdp: sdpOffer(40030, [{ pt: 0, name: 'PCMU' }]) })).result).toBe('ok');
    expect((await ctl('list')).out).toContain('kam-1  media');
    expect(JSON.parse((await ctl('--json', 'show', 'kam-1')).out)).toMatchObject({ callId: 'kam-1', kind: 'media', media: { callId: 'kam-1' } });
    expect(await ctl('terminate', 'kam-1')).toMatchObject({ code: 0, out: 'terminated: kam-1\nhow: media session deleted\n' });
    expect(await env.tandem.media.list()).toEqual([]);
    ng.close();
  });

  it('usage errors exit 2, an unreachable Tandem exits 3', async () => {
    let err = '';
    const quiet = (s: string): void => void (err += s);
    expect(await runCtl([], quiet, quiet)).toBe(2);
    expect(await runCtl(['frobnicate'], quiet, quiet)).toBe(2);
    expect(await runCtl(['show'], quiet, quiet)).toBe(2);
    expect(await runCtl(['maxsessions', 'many'], quiet, quiet)).toBe(2);
    expect(await runCtl(['--url=ftp://x', 'list'], quiet, quiet)).toBe(2);
    expect(err).toContain('unknown command "frobnicate"');
    // A port nothing listens on (a closed listener's).
    env = await OpsEnv.start();
    const port = env.tandem.ops.address!.port;
    await env.close();
    env = undefined;
    err = '';
    expect(await runCtl([`--url=http://127.0.0.1:${port}`, '--timeout=2000', 'list'], quiet, quiet)).toBe(3);
    expect(err).toContain('cannot reach Tandem');
  });
});

describe('routes reload', () => {
  it('a good file is taken by new calls while a call in progress keeps its route; a bad file is refused and the old routes stay', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-reload-'));
    const file = join(dir, 'routes.json');
    other = await SipPeer.udp();
    const routes = (name: string, port: number): string => JSON.stringify({ routes: [{ name, match: {}, targets: [{ uri: `sip:127.0.0.1:${port}` }], policy: { b: { codecs: ['PCMU'] } } }] });
    env = await OpsEnv.start((callee) => {
      writeFileSync(file, routes('first', callee.port));
      return { route: undefined, bCodecs: undefined, routesFile: file } as never;
    });
    const live = await env.call();

    writeFileSync(file, routes('second', other.port));
    expect(await ctl('reload')).toMatchObject({ code: 0, out: 'reloaded: true\nfiles: {"routes":1}\nroutes: ["second"]\n' });
    // A new call goes to the new target.
    const { text, callId } = env.invite(sdpOffer(40020, [{ pt: 8, name: 'PCMA' }]));
    env.caller.send(text, env.sip);
    const inv = await other.next((m) => m.kind === 'request' && m.method === 'INVITE', WAIT_MS);
    other.reply(inv, 486, { reason: 'Busy Here' });
    const busy = await env.caller.next(finalFor(callId), WAIT_MS);
    expect(busy.msg.kind === 'response' && busy.msg.status).toBe(486);

    // Broken JSON, then a route with a bad target: refused, named, and the routes in use stay.
    writeFileSync(file, '{"routes": [');
    const bad = await ctl('reload');
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/tandem ctl: reload: .*routes\.json/);
    writeFileSync(file, JSON.stringify({ routes: [{ name: 'x', match: {}, targets: [{ uri: 'http://nope' }] }] }));
    expect((await ctl('reload')).code).toBe(1);
    expect((await ctl('--json', 'list')).out).toContain('"route": "first"');

    // The call from before the reload still works on its route: media both ways, and its BYE reaches the first callee.
    const toB = mediaTarget(live.bInvite.msg.body.toString());
    await live.rtpB.send(rtpPacket({ pt: 0, seq: 1, ts: 160, ssrc: 3, payload: patternPayload(160, 1) }), toB.port);
    await live.rtpA.waitFor(1, WAIT_MS);
    const bBye = env.callee.next((m) => m.kind === 'request' && m.method === 'BYE', WAIT_MS);
    await env.bye(live.callId, live.aOk);
    await bBye;
    live.rtpA.close();
    live.rtpB.close();
  });
});

describe('call records', () => {
  it('--cdr: one JSON line per ended call with parties, times, codecs, packets and MOS', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'tandem-cdr-')), 'cdr.json');
    env = await OpsEnv.start(() => ({ cdr: file }));
    const { callId, aOk, bInvite, rtpA, rtpB } = await env.call();
    const toA = mediaTarget(aOk.msg.body.toString());
    for (let i = 0; i < 20; i++) await rtpA.send(rtpPacket({ pt: 8, seq: i, ts: i * 160, ssrc: 1, payload: patternPayload(160, 1) }), toA.port);
    await rtpB.waitFor(20, WAIT_MS);
    await env.bye(callId, aOk);
    await expect.poll(() => env!.tandem.ops.cdr?.counters.written, { timeout: WAIT_MS }).toBe(1);
    const lines = readFileSync(file, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(1);
    const r = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(r).toMatchObject({ callId, bCallId: getCallId(bInvite.msg), route: 'default', from: 'sip:alice@127.0.0.1', to: 'sip:100@127.0.0.1', reason: 'BYE from leg A', codecs: { a: 'PCMA/8000', b: 'PCMU/8000' }, transcoded: true, packets: 20, lost: 0, loss: 0 });
    expect(Date.parse(r.endTime as string)).toBeGreaterThanOrEqual(Date.parse(r.answerTime as string));
    expect(Date.parse(r.answerTime as string)).toBeGreaterThanOrEqual(Date.parse(r.setupTime as string));
    expect(r.mos).toBeGreaterThan(4);
    expect(env.tandem.ops.cdr?.counters).toEqual({ written: 1, dropped: 0, withoutMedia: 0, posted: 0, postFailed: 0, postDropped: 0 });
    // A call still up at shutdown is hung up and recorded too, with its media figures, before the file closes.
    const last = await env.call();
    const cdr = env.tandem.ops.cdr!;
    await env.close();
    env = undefined;
    expect(cdr.counters).toMatchObject({ written: 2, dropped: 0, withoutMedia: 0 });
    const second = JSON.parse(readFileSync(file, 'utf8').trim().split('\n')[1]) as Record<string, unknown>;
    expect(second).toMatchObject({ callId: last.callId, reason: 'shutting down', codecs: { a: 'PCMA/8000', b: 'PCMU/8000' }, packets: 0 });
    for (const p of [rtpA, rtpB, last.rtpA, last.rtpB]) p.close();
  });

  it('--cdr-url: each record is POSTed as JSON; a collector that refuses it is counted, not retried', async () => {
    const bodies: { type: string | undefined; body: string }[] = [];
    let status = 200;
    const collector = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push({ type: req.headers['content-type'], body });
        res.writeHead(status).end();
      });
    });
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', () => r()));
    const url = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/cdr`;
    try {
      env = await OpsEnv.start(() => ({ cdrUrl: url }));
      const first = await env.call();
      await env.bye(first.callId, first.aOk);
      await expect.poll(() => env!.tandem.ops.cdr?.counters.posted, { timeout: WAIT_MS }).toBe(1);
      expect(bodies[0].type).toBe('application/json');
      expect(JSON.parse(bodies[0].body)).toMatchObject({ callId: first.callId, reason: 'BYE from leg A', codecs: { a: 'PCMA/8000', b: 'PCMU/8000' } });
      status = 503;
      const second = await env.call();
      await env.bye(second.callId, second.aOk);
      await expect.poll(() => env!.tandem.ops.cdr?.counters.postFailed, { timeout: WAIT_MS }).toBe(1);
      expect(bodies).toHaveLength(2);
      expect(env.tandem.ops.cdr?.counters).toMatchObject({ posted: 1, postFailed: 1, postDropped: 0, written: 0 });
      for (const c of [first, second]) {
        c.rtpA.close();
        c.rtpB.close();
      }
    } finally {
      collector.close();
    }
  });
});
