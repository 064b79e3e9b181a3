import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import sdpTransform from 'sdp-transform';
import type { BDict } from '../../src/control/bencode.js';
import type { RawNg } from '../helpers/ng.js';
import { startTestTandem } from '../helpers/tandem.js';

/**
 * SDP golden pairs: input SDP + ng options → expected SDP (ports written as {PORT}/{RTCP}).
 * Each case also records what Debian's rtpengine 10.5 answered to the same offer; we check
 * that Tandem's SDP means the same (codecs, payload types, ptime, rtcp, direction), even where
 * attribute order differs. UPDATE_GOLDEN=1 rewrites the .out.sdp files for review.
 */
const DIR = join(__dirname, '../fixtures/sdp/golden');
const cases = JSON.parse(readFileSync(join(DIR, 'rtpengine-10.5-offers.json'), 'utf8')) as Record<
  string,
  { in: string; flags: BDict; rtpengine: string }
>;

function withPlaceholders(sdp: string): string {
  const port = Number(/^m=\S+ (\d+) /m.exec(sdp)?.[1]);
  return sdp
    .replace(/^(m=\S+ )\d+/gm, '$1{PORT}')
    .replace(new RegExp(`^a=rtcp:${port + 1}`, 'gm'), 'a=rtcp:{RTCP}');
}

function meaning(sdp: string) {
  const s = sdpTransform.parse(sdp);
  return s.media.map((m) => ({
    type: m.type,
    protocol: m.protocol,
    payloads: String(m.payloads),
    rtp: m.rtp.map((r) => `${r.payload} ${r.codec}/${r.rate}`).sort(),
    fmtp: m.fmtp.map((f) => `${f.payload} ${f.config}`).sort(),
    ptime: m.ptime,
    rtcpIsPortPlusOne: m.rtcp?.port === m.port + 1,
    direction: m.direction,
    address: (m.connection ?? s.connection)?.ip,
  }));
}

/** Ours equals NAME.out.sdp byte for byte and means what rtpengine's SDP means. */
function expectGolden(name: string, sdp: string, rtpengineSdp: string): void {
  const ours = withPlaceholders(sdp);
  const file = join(DIR, `${name}.out.sdp`);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, ours);
  expect(existsSync(file), `missing golden file ${file} (UPDATE_GOLDEN=1 writes it)`).toBe(true);
  expect(ours).toBe(readFileSync(file, 'utf8'));
  expect(meaning(sdp)).toEqual(meaning(rtpengineSdp));
}

const answerCases = JSON.parse(readFileSync(join(DIR, 'rtpengine-10.5-answers.json'), 'utf8')) as Record<
  string,
  { offer: string; offerFlags: BDict; answer: string; answerFlags: BDict; rtpengineAnswer: string }
>;

describe('SDP golden pairs', () => {
  let env: Awaited<ReturnType<typeof startTestTandem>>;
  let ng: RawNg;
  beforeAll(async () => {
    env = await startTestTandem({ numThreads: 1 });
    ng = env.ng;
  });
  afterAll(() => env.close());

  describe('offer', () => {
    for (const [name, c] of Object.entries(cases)) {
      it(name, async () => {
        const reply = await ng.request({ command: 'offer', 'call-id': `golden-${name}`, 'from-tag': 'a', sdp: c.in, ...c.flags });
        expect(reply.result, String(reply['error-reason'])).toBe('ok');
        expectGolden(name, reply.sdp as string, c.rtpengine);
        await ng.request({ command: 'delete', 'call-id': `golden-${name}` });
      });
    }
  });

  describe('answer to the offerer', () => {
    for (const [name, c] of Object.entries(answerCases)) {
      it(name, async () => {
        const callId = `golden-answer-${name}`;
        const offer = await ng.request({ command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: c.offer, ...c.offerFlags });
        expect(offer.result, String(offer['error-reason'])).toBe('ok');
        const reply = await ng.request({ command: 'answer', 'call-id': callId, 'from-tag': 'a', 'to-tag': 'b', sdp: c.answer, ...c.answerFlags });
        expect(reply.result, String(reply['error-reason'])).toBe('ok');
        expectGolden(name, reply.sdp as string, c.rtpengineAnswer);
        await ng.request({ command: 'delete', 'call-id': callId });
      });
    }
  });
});
