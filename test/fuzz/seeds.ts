import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decode, type BDict } from '../../src/control/bencode.js';
import { serializeStun, STUN_TYPE, ATTR, MAGIC_COOKIE } from '../../src/media/rtp/stun.js';
import { rtpPacket } from '../helpers/rtp-peer.js';

/**
 * Real seeds for the mutators: SDPs captured from Chromium, SIPp and baresip (test/fuzz/corpus,
 * copied from the shared fixtures) and the golden ones, the ng exchange Kamailio had with
 * rtpengine, and well-formed RTP/RTCP/STUN/DTLS packets.
 */
const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, '..', 'fixtures');

function sdpFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.sdp'))
    .sort()
    .map((f) => readFileSync(join(dir, f), 'utf8'));
}

let sdpCache: string[] | undefined;
export function sdpSeeds(): string[] {
  if (sdpCache !== undefined) return sdpCache;
  const golden = join(fixtures, 'sdp', 'golden');
  const fromJson: string[] = [];
  for (const f of ['rtpengine-10.5-offers.json', 'rtpengine-10.5-answers.json']) {
    const cases = JSON.parse(readFileSync(join(golden, f), 'utf8')) as Record<string, { in?: unknown }>;
    for (const c of Object.values(cases)) if (typeof c.in === 'string') fromJson.push(c.in);
  }
  sdpCache = [...sdpFiles(join(here, 'corpus')), ...sdpFiles(golden), ...fromJson];
  return sdpCache;
}

/** The requests Kamailio sent in test/fixtures/ng/kamailio-rtpengine-call.txt, decoded. */
export function ngSeeds(): BDict[] {
  const text = readFileSync(join(fixtures, 'ng', 'kamailio-rtpengine-call.txt'), 'latin1');
  const out: BDict[] = [];
  for (const block of text.split(/^=== .*$/m).slice(1)) {
    const body = block.replace(/^\n/, '').replace(/\n+$/, '');
    const sp = body.indexOf(' ');
    // The capture dropped the SDP's CRs but kept the lengths that counted them.
    for (const raw of [body.slice(sp + 1), body.slice(sp + 1).replace(/\n/g, '\r\n')]) {
      try {
        const d = decode(Buffer.from(raw, 'latin1'));
        if (typeof d === 'object' && !Array.isArray(d) && typeof d.command === 'string') out.push(d);
        break;
      } catch {
        // Replies cut short in the fixture are no seeds.
      }
    }
  }
  return out;
}

export function rtpSeed(pt = 0, seq = 1): Buffer {
  return rtpPacket({ pt, seq, ts: seq * 160, ssrc: 0x1234, payload: Buffer.alloc(160, 0xd5), marker: seq === 1 });
}

/** A compound RTCP: SR with one report block, then SDES with a CNAME. */
export function rtcpSeed(): Buffer {
  const sr = Buffer.alloc(52);
  sr[0] = 0x81;
  sr[1] = 200;
  sr.writeUInt16BE(12, 2);
  sr.writeUInt32BE(0x1234, 4);
  sr.writeUInt32BE(0xe0000000, 8);
  sr.writeUInt32BE(5678, 20);
  sr.writeUInt32BE(10, 24);
  sr.writeUInt32BE(0x5678, 28);
  const cname = Buffer.from('fuzz@127.0.0.1');
  // Header, SSRC, the CNAME item, at least one null octet ending the chunk, padded to 32 bits.
  const sdes = Buffer.alloc(Math.ceil((8 + 2 + cname.length + 1) / 4) * 4);
  sdes[0] = 0x81;
  sdes[1] = 202;
  sdes.writeUInt16BE(sdes.length / 4 - 1, 2);
  sdes.writeUInt32BE(0x1234, 4);
  sdes[8] = 1;
  sdes[9] = cname.length;
  cname.copy(sdes, 10);
  return Buffer.concat([sr, sdes]);
}

export function stunSeed(username = 'tandem:peer'): Buffer {
  const prio = Buffer.alloc(4);
  prio.writeUInt32BE(0x6e001eff);
  return serializeStun(
    {
      type: STUN_TYPE.bindingRequest,
      transactionId: Buffer.from('0123456789ab'),
      attributes: [
        { type: ATTR.username, value: Buffer.from(username) },
        { type: ATTR.priority, value: prio },
        { type: ATTR.useCandidate, value: Buffer.alloc(0) },
      ],
    },
    { integrityKey: Buffer.from('not-the-password'), fingerprint: true },
  );
}

/** A DTLS 1.2 record carrying the start of a ClientHello (content type 22, version fefd). */
export function dtlsSeed(): Buffer {
  const hs = Buffer.concat([Buffer.from([1, 0, 0, 0x2c, 0, 0, 0, 0, 0, 0, 0, 0x2c, 0xfe, 0xfd]), Buffer.alloc(32, 7), Buffer.from([0, 0, 0, 2, 0xc0, 0x2b, 1, 0])]);
  const rec = Buffer.alloc(13);
  rec[0] = 22;
  rec.writeUInt16BE(0xfefd, 1);
  rec.writeUInt16BE(hs.length, 11);
  return Buffer.concat([rec, hs]);
}

export { MAGIC_COOKIE };
