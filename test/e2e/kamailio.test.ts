// End to end with a real proxy: Debian's Kamailio 5.6 (rtpengine module) drives an ng media server
// (Debian rtpengine as the reference, and Tandem). A PCMA-only caller calls a PCMU-only callee through
// Kamailio; the media server must transcode both ways byte-exactly (G.711 tables built with sox), and the call
// must be gone from ng `list` after BYE.
//
// Run: npx vitest run test/e2e/kamailio.test.ts        (E2E_MEDIA_SERVERS=rtpengine|tandem to narrow)
// Tandem needs `npm run build` first (dist/cli/tandem.js).
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { fileURLToPath } from 'node:url';
import { makeTempDir, waitFor } from './helpers/proc.js';
import { NgTap, TestNgClient, type BDict, type BValue, type NgTapRecord } from './helpers/ng.js';
import { describeWithPeers } from '../helpers/peers.js';
import { mediaServerKinds, peersFor, startMediaServer, type MediaServer, type MediaServerKind } from './helpers/media-servers.js';
import { startKamailio, type Kamailio } from './helpers/kamailio.js';
import { SipUa, audioSdp, parseAudioSdp, type Dialog, type AudioSdpInfo } from './helpers/sip-ua.js';
import { patternPayloads, soxG711Tables, type RtpPacket } from './helpers/rtp.js';

const CFG = fileURLToPath(new URL('./kamailio/kamailio.cfg', import.meta.url));
const PACKETS = 20;
const OFFER_FLAGS = 'replace-origin replace-session-connection codec-mask=PCMA codec-transcode=PCMU';

/** Compact one-line rendering of an ng dict (SDP bodies shortened to their m= lines). */
function renderNg(d: BValue): string {
  if (typeof d === 'number') return String(d);
  if (typeof d === 'string') return JSON.stringify(d);
  if (Array.isArray(d)) return `[${d.map(renderNg).join(', ')}]`;
  return `{${Object.entries(d)
    .map(([k, v]) =>
      k === 'sdp' && typeof v === 'string'
        ? `sdp: <${v.split(/\r?\n/).filter((l) => l.startsWith('m=') || l.startsWith('a=rtpmap')).join(' | ')}>`
        : `${k}: ${renderNg(v)}`,
    )
    .join(', ')}}`;
}

const loggedNgFor = new Set<MediaServerKind>();

for (const kind of mediaServerKinds()) describeWithPeers(`Kamailio 5.6 rtpengine module -> ${kind}`, ['kamailio', 'sox', ...peersFor(kind)], () => {
  let logDir = '';
  let media: MediaServer | undefined;
  let tap: NgTap | undefined;
  let kam: Kamailio | undefined;
  let caller: SipUa | undefined;
  let callee: SipUa | undefined;
  let ng: TestNgClient | undefined;

  // State shared by the steps below (they run in order).
  let callerDialog: Dialog | undefined;
  let calleeDialog: Dialog | undefined;
  let callerView: AudioSdpInfo | undefined; // media server as the caller sees it (200's SDP)
  let calleeView: AudioSdpInfo | undefined; // media server as the callee sees it (INVITE's SDP)

  const diagnostics = (): string => {
    const parts: string[] = [`--- logs in ${logDir}`];
    if (media) parts.push(`--- ${media.kind} log tail (${media.proc.logPath})`, media.proc.tail(60));
    if (kam) parts.push(`--- kamailio log tail (${kam.proc.logPath})`, kam.proc.tail(60));
    if (tap) parts.push('--- ng messages', ...tap.records.map((r) => `${r.dir} ${r.cookie} ${renderNg(r.dict)}`));
    if (caller) parts.push('--- caller SIP', caller.dump(12));
    if (callee) parts.push('--- callee SIP', callee.dump(12));
    if (caller) parts.push(`--- caller RTP received: ${caller.rtp.received.length}`);
    if (callee) parts.push(`--- callee RTP received: ${callee.rtp.received.length}`);
    return parts.join('\n');
  };
  const onFail = (ctx: TestContext): void => {
    ctx.onTestFailed(() => {
      console.error(`[${kind}] diagnostics for failed test "${ctx.task.name}":\n${diagnostics()}`);
    });
  };

  beforeAll(async () => {
    logDir = makeTempDir(`kamailio-e2e-${kind}`);
    try {
      soxG711Tables(); // fail early if sox is missing
      // The media server first: Kamailio pings it at start-up and disables it for 60 s without a pong.
      media = await startMediaServer(kind, logDir);
      tap = await NgTap.start(media.ng);
      ng = new TestNgClient({ ...media.ng, timeoutMs: 1000, retries: 2 });
      caller = await SipUa.create('alice');
      callee = await SipUa.create('bob');
      kam = await startKamailio({
        cfg: CFG,
        logDir,
        ng: { host: '127.0.0.1', port: tap.port },
        calleeUri: `sip:127.0.0.1:${callee.port}`,
        defines: { OFFER_FLAGS: `"${OFFER_FLAGS}"` },
      });
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      e.message += `\n${diagnostics()}`;
      throw e;
    }
  });

  afterAll(async () => {
    caller?.close();
    callee?.close();
    ng?.close();
    await kam?.stop();
    tap?.close();
    await media?.stop();
  });

  it('INVITE (PCMA only) / 200 (PCMU only) / ACK through Kamailio: each side is offered only its own codec', async (ctx) => {
    onFail(ctx);
    const c = caller!;
    const b = callee!;
    const answering = b.answerNextInvite({
      sdp: audioSdp({ user: 'bob', port: b.rtp.port, rtcpPort: b.rtp.rtcpPort, codecs: [{ pt: 0, name: 'PCMU' }] }),
    });
    const { dialog, response } = await c.invite({
      proxy: kam!.sip,
      requestUri: 'sip:bob@127.0.0.1',
      to: '<sip:bob@127.0.0.1>',
      sdp: audioSdp({
        user: 'alice',
        port: c.rtp.port,
        rtcpPort: c.rtp.rtcpPort,
        codecs: [
          { pt: 8, name: 'PCMA' },
          { pt: 101, name: 'telephone-event', fmtp: '0-16' },
        ],
      }),
    });
    const answered = await answering;
    callerDialog = dialog;
    calleeDialog = answered.dialog;
    expect(response.status).toBe(200);
    expect(dialog.routeSet.length).toBeGreaterThan(0); // Kamailio record-routed
    expect(dialog.routeSet[0]).toContain(`127.0.0.1:${kam!.sip.port}`);

    // What the callee was offered: the media server, PCMU (transcode), no PCMA (masked).
    calleeView = parseAudioSdp(answered.invite.body);
    expect(calleeView.address).toBe('127.0.0.1');
    expect(calleeView.port).toBeGreaterThanOrEqual(media!.ports.min);
    expect(calleeView.port).toBeLessThanOrEqual(media!.ports.max);
    expect(calleeView.payloads).toContain(0);
    expect(calleeView.payloads).not.toContain(8);

    // What the caller got back: the media server, PCMA, no PCMU.
    callerView = parseAudioSdp(response.body);
    expect(callerView.address).toBe('127.0.0.1');
    expect(callerView.port).toBeGreaterThanOrEqual(media!.ports.min);
    expect(callerView.port).toBeLessThanOrEqual(media!.ports.max);
    expect(callerView.payloads).toContain(8);
    expect(callerView.payloads).not.toContain(0);

    // How Kamailio spelled the flags on the wire.
    const offer = tap!.records.find((r) => r.dir === 'request' && r.dict.command === 'offer');
    const answer = tap!.records.find((r) => r.dir === 'request' && r.dict.command === 'answer');
    expect(offer, 'Kamailio sent an ng offer').toBeDefined();
    expect(answer, 'Kamailio sent an ng answer').toBeDefined();
    expect(offer!.dict['call-id']).toBe(dialog.callId);
    expect(offer!.dict.codec).toEqual({ mask: ['PCMA'], transcode: ['PCMU'] });
    expect(offer!.dict.replace).toEqual(['origin', 'session-connection']);
    if (!loggedNgFor.has(kind)) {
      loggedNgFor.add(kind);
      console.log(`[${kind}] raw ng offer from Kamailio:\n${offer!.raw}`);
      console.log(
        `[${kind}] ng exchange so far:\n` +
          tap!.records.map((r: NgTapRecord) => `  ${r.dir} ${r.cookie} ${renderNg(r.dict)}`).join('\n'),
      );
    }
  });

  const hex = (v: number | undefined): string => (v === undefined ? '--' : v.toString(16).padStart(2, '0'));

  /**
   * The received payloads must be a G.711 transcoding of what was sent, byte for byte, under ONE of the
   * two rounding conventions (the whole stream consistent with it):
   * - "sox": exactly Debian sox's conversion (`sox -t al ... -t ul`: decode, truncating encode);
   * - "nearest": each byte is the target-law code whose level is nearest to the source byte's level
   *   (levels decoded by sox; where two are equally near, either). rtpengine (ffmpeg tables) does this.
   * They differ by one quantization step on 2/256 A-law and 46/256 mu-law bytes. Returns the convention
   * that matched (both when the payload does not tell them apart).
   */
  const expectTranscoded = (
    got: RtpPacket[],
    pt: number,
    sent: Buffer[],
    nearest: number[][],
    soxDirect: Buffer,
  ): string => {
    const media = got.filter((p) => p.pt === pt);
    const other = got.filter((p) => p.pt !== pt).map((p) => p.pt);
    expect(other, 'packets with an unexpected payload type').toEqual([]);
    expect(media.length, 'packets received').toBe(sent.length);
    const notSox: string[] = [];
    const notNearest: string[] = [];
    media.forEach((p, i) => {
      expect(p.payload.length, `packet ${i} length`).toBe(sent[i].length);
      for (let j = 0; j < sent[i].length; j++) {
        const src = sent[i][j];
        const b = p.payload[j];
        const line = `pkt ${i} byte ${j}: sent ${hex(src)} got ${hex(b)}; sox ${hex(soxDirect[src])}, nearest ${nearest[src].map(hex).join('|')}`;
        if (b !== soxDirect[src]) notSox.push(line);
        if (!nearest[src].includes(b)) notNearest.push(line);
      }
    });
    const fewest = notSox.length <= notNearest.length ? notSox : notNearest;
    expect(
      notSox.length === 0 || notNearest.length === 0,
      `payload is not a G.711 transcoding under either rounding convention: ${notSox.length} bytes differ from sox, ` +
        `${notNearest.length} from nearest-level (first 40 of the smaller set):\n${fewest.slice(0, 40).join('\n')}`,
    ).toBe(true);
    // Sequence numbers are consecutive.
    for (let i = 1; i < media.length; i++) expect((media[i].seq - media[i - 1].seq) & 0xffff).toBe(1);
    if (notSox.length === 0 && notNearest.length === 0) return 'sox and nearest (indistinguishable here)';
    return notSox.length === 0 ? `sox (${notNearest.length} bytes off nearest)` : `nearest (${notSox.length} bytes off sox)`;
  };

  it(`caller -> callee: ${PACKETS} PCMA packets arrive as PCMU, byte-exact G.711 (sox or nearest-level rounding)`, async (ctx) => {
    onFail(ctx);
    expect(callerView, 'previous step set up the call').toBeDefined();
    const t = soxG711Tables();
    const sent = patternPayloads(PACKETS, 160, 0);
    await caller!.rtp.sendStream(callerView!, 8, sent);
    await waitFor(`${PACKETS} packets at the callee`, () => callee!.rtp.received.length >= PACKETS, {
      timeoutMs: 3000,
      intervalMs: 20,
    }).catch(() => undefined); // the assertions below say what arrived
    const convention = expectTranscoded(callee!.rtp.received, 0, sent, t.alawToUlawNearest, t.alawToUlaw);
    console.log(`[${kind}] A->mu: ${PACKETS * 160} bytes transcoded exactly; rounding convention: ${convention}`);
  });

  it(`callee -> caller: ${PACKETS} PCMU packets arrive as PCMA, byte-exact G.711 (sox or nearest-level rounding)`, async (ctx) => {
    onFail(ctx);
    expect(calleeView, 'previous step set up the call').toBeDefined();
    const t = soxG711Tables();
    const sent = patternPayloads(PACKETS, 160, 11);
    await callee!.rtp.sendStream(calleeView!, 0, sent);
    await waitFor(`${PACKETS} packets at the caller`, () => caller!.rtp.received.length >= PACKETS, {
      timeoutMs: 3000,
      intervalMs: 20,
    }).catch(() => undefined);
    const convention = expectTranscoded(caller!.rtp.received, 8, sent, t.ulawToAlawNearest, t.ulawToAlaw);
    console.log(`[${kind}] mu->A: ${PACKETS * 160} bytes transcoded exactly; rounding convention: ${convention}`);
  });

  it('ng query before BYE shows the call with packet counts', async (ctx) => {
    onFail(ctx);
    const q = await ng!.request({ command: 'query', 'call-id': callerDialog!.callId });
    expect(q.result).toBe('ok');
    const totals = q.totals as BDict | undefined;
    const rtp = totals?.RTP as BDict | undefined;
    expect(rtp, `query reply has totals.RTP: ${renderNg(q)}`).toBeDefined();
    expect(Number(rtp!.packets)).toBeGreaterThanOrEqual(2 * PACKETS);
  });

  it('BYE through the route set -> 200; Kamailio sends delete; the call is gone from ng list', async (ctx) => {
    onFail(ctx);
    const res = await caller!.bye(callerDialog!);
    expect(res.status).toBe(200);
    expect(callee!.byesReceived.length).toBe(1);
    expect(calleeDialog!.callId).toBe(callerDialog!.callId);
    const del = tap!.records.find((r) => r.dir === 'request' && r.dict.command === 'delete');
    expect(del, 'Kamailio sent an ng delete').toBeDefined();
    expect(del!.dict['call-id']).toBe(callerDialog!.callId);
    const delReply = tap!.records.find((r) => r.dir === 'reply' && r.cookie === del!.cookie);
    expect(delReply?.dict.result).toBe('ok');
    const list = await ng!.request({ command: 'list' });
    expect(list.result).toBe('ok');
    expect(Array.isArray(list.calls), `list reply has calls: ${renderNg(list)}`).toBe(true);
    expect(list.calls as BValue[]).not.toContain(callerDialog!.callId);
    if (loggedNgFor.has(kind)) {
      console.log(
        `[${kind}] ng delete as Kamailio sent it: ${renderNg(del!.dict)}\n[${kind}] list after BYE: ${renderNg(list)}`,
      );
    }
  });
});
