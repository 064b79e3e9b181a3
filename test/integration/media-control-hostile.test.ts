import { describe, expect, it } from 'vitest';
import type { BDict, BValue } from '../../src/control/bencode.js';
import { tandemPerFile } from '../helpers/tandem.js';
import { RtpPeer, rtpPacket, sdpFor, mediaTarget } from '../helpers/rtp-peer.js';
import { mulberry32, type Rand } from '../fuzz/prng.js';
import { EXTREME_NUMBERS } from '../fuzz/mutate.js';

/**
 * Hostile media control over real ng: 400 seeded mutations of the nine commands (values swapped for
 * extreme numbers, wrong types, long or odd strings, special paths; keys dropped or added) against
 * a live call. Each must be answered `ok` or `error` with a reason; afterwards the call still relays
 * both ways, and `ping` answers.
 */
const tandem = tandemPerFile();
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed15);

const COMMANDS: BDict[] = [
  { command: 'block DTMF', flags: ['directional'], 'from-tag': 'A' },
  { command: 'unblock DTMF', flags: ['all'] },
  { command: 'block media', 'from-tag': 'B', 'to-tag': 'A', flags: ['directional'] },
  { command: 'unblock media' },
  { command: 'silence media', 'from-tag': 'A' },
  { command: 'unsilence media', all: 'all' },
  { command: 'play media', 'from-tag': 'B', blob64: Buffer.alloc(320).toString('base64'), 'repeat-times': 2, 'start-pos': 10 },
  { command: 'play media', 'from-tag': 'A', file: '/etc/hostname' },
  { command: 'stop media', 'from-tag': 'B' },
  { command: 'play DTMF', 'from-tag': 'A', code: '#', duration: 100, volume: 10, pause: 100 },
  { command: 'play DTMF', label: 'x', digit: 3 },
];

const ODD: BValue[] = [
  ...EXTREME_NUMBERS, -1, 0, 16, 2 ** 31, -(2 ** 40), 'A', 'Z', '*#', 'all', 'directional', '/dev/zero', '/proc/self/status', '/',
  '../../../../etc/passwd', 'x'.repeat(3000), '\u0000\u0001', 'é\ufffd', [], [1, 'a'], {}, { a: { b: [] } }, 'B', 'A', 'nobody',
];

function mutate(d: BDict, r: Rand): BDict {
  const out: BDict = { ...d };
  for (let n = 1 + r.int(3); n > 0; n--) {
    const keys = Object.keys(out).filter((k) => k !== 'command' && k !== 'call-id');
    const op = r.int(4);
    if (op === 0 && keys.length > 0) out[r.pick(keys)] = r.pick(ODD);
    else if (op === 1 && keys.length > 0) delete out[r.pick(keys)];
    else if (op === 2) out[r.pick(['code', 'file', 'blob', 'blob64', 'repeat-times', 'start-pos', 'from-tag', 'to-tag', 'label', 'flags', 'all', 'duration', 'volume', 'db-id', 'repeat-duration'])] = r.pick(ODD);
    else if (keys.length > 0) out[r.pick(keys)] = [r.pick(ODD), r.pick(ODD)];
  }
  return out;
}

describe('hostile media control', () => {
  it('400 mutated commands on a live call: each answered ok or error with a reason; the call still relays', async () => {
    const a = await RtpPeer.open();
    const b = await RtpPeer.open();
    const te = { pts: [8, 101], rtpmaps: ['8 PCMA/8000', '101 telephone-event/8000'] };
    const offer = await tandem.ng.request({ command: 'offer', 'call-id': 'hostile', 'from-tag': 'A', label: 'x', sdp: sdpFor({ port: a.port, ...te }) });
    const answer = await tandem.ng.request({ command: 'answer', 'call-id': 'hostile', 'from-tag': 'A', 'to-tag': 'B', sdp: sdpFor({ port: b.port, ...te }) });
    expect([offer.result, answer.result]).toEqual(['ok', 'ok']);
    const r = mulberry32(SEED);
    const results = new Map<string, number>();
    for (let i = 0; i < 400; i++) {
      const dict = mutate({ ...r.pick(COMMANDS), 'call-id': r.chance(0.95) ? 'hostile' : r.pick(ODD) }, r);
      let reply: BDict;
      try {
        reply = await tandem.ng.request(dict);
      } catch (err) {
        throw new Error(`seed ${SEED} case ${i}: ${String(err)} for ${JSON.stringify(dict).slice(0, 300)}`);
      }
      const ok = reply.result === 'ok' || (reply.result === 'error' && typeof reply['error-reason'] === 'string' && reply['error-reason'] !== '');
      expect(ok, `seed ${SEED} case ${i}: ${JSON.stringify(reply)} for ${JSON.stringify(dict).slice(0, 300)}`).toBe(true);
      const key = `${String(dict.command)}: ${String(reply.result)}`;
      results.set(key, (results.get(key) ?? 0) + 1);
    }
    // Both kinds of answer were met: the mutations reached the checks and the commands.
    expect([...results.keys()].some((k) => k.endsWith('ok'))).toBe(true);
    expect([...results.keys()].some((k) => k.endsWith('error'))).toBe(true);

    // Back to plain relaying, then the positive control: media both ways.
    for (const command of ['unblock DTMF', 'unblock media', 'unsilence media', 'stop media'])
      await tandem.ng.request({ command, 'call-id': 'hostile', flags: ['all'] });
    await new Promise((res) => setTimeout(res, 100));
    a.received.length = 0;
    b.received.length = 0;
    const payload = Buffer.alloc(160, 0x55);
    await a.send(rtpPacket({ pt: 8, seq: 1, ts: 160, ssrc: 1, payload }), mediaTarget(String(answer.sdp)).port);
    await b.send(rtpPacket({ pt: 8, seq: 1, ts: 160, ssrc: 2, payload }), mediaTarget(String(offer.sdp)).port);
    expect((await b.waitFor(1)).some((p) => p.subarray(12).equals(payload))).toBe(true);
    expect((await a.waitFor(1)).some((p) => p.subarray(12).equals(payload))).toBe(true);
    expect((await tandem.ng.request({ command: 'ping' })).result).toBe('pong');
    await tandem.ng.request({ command: 'delete', 'call-id': 'hostile' });
    a.close();
    b.close();
  });
});
