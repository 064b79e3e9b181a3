import { describe, it, expect, afterAll, beforeAll } from 'vitest';
import { resolve } from 'node:path';
import { pino } from 'pino';
import { parseArgs } from '../../src/config/load.js';
import { startTandem, type RunningTandem } from '../../src/main.js';
import { RawNg } from '../helpers/ng.js';
import { TcpNg } from '../helpers/ng-tcp.js';
import { sdpFor } from '../helpers/rtp-peer.js';

/**
 * A migration as the README describes it: Debian's rtpengine.conf, unmodified, handed to Tandem
 * with the few options it cannot take from it on the command line (the interface, and here free
 * ports so tests do not collide). Kamailio-style rtpp-flags then work over UDP and TCP.
 */
const DEBIAN = resolve(__dirname, '../fixtures/rtpengine/debian-rtpengine.conf');

describe("Tandem started from Debian's rtpengine.conf", () => {
  let t: RunningTandem;
  beforeAll(async () => {
    const base = 10000 + Math.floor(Math.random() * 45) * 400;
    const r = parseArgs([`--config-file=${DEBIAN}`, '--interface=127.0.0.1', '--listen-ng=127.0.0.1:0', '--listen-tcp-ng=127.0.0.1:0', '--listen-sip=none', '--listen-http=off', '--num-threads=1', `--port-min=${base}`, `--port-max=${base + 399}`, '--log-level=3']);
    if (r.kind !== 'run') throw new Error('expected run');
    expect(r.config).toMatchObject({ timeout: 60, logLevel: 'error' });
    t = await startTandem(r.config, pino({ level: 'silent' }));
  });
  afterAll(() => t.close());

  it('answers offers with rtpp-flags over UDP and TCP', async () => {
    const udp = await new RawNg(t.ngAddress.port).open();
    const tcp = await TcpNg.connect(t.ngTcpAddress?.port ?? 0);
    try {
      const sdp = sdpFor({ port: 40500, pts: [0, 8, 18], rtpmaps: ['0 PCMU/8000', '8 PCMA/8000', '18 G729/8000'] });
      const flags = 'replace-origin replace-session-connection trust-address codec-strip-G729 codec=[mask=[PCMA] transcode=[PCMU]]';
      const a = await udp.request({ command: 'offer', 'call-id': 'deb-udp', 'from-tag': 'x', sdp, 'rtpp-flags': flags });
      const b = await tcp.request({ command: 'offer', 'call-id': 'deb-tcp', 'from-tag': 'x', sdp, 'rtpp-flags': flags });
      for (const r of [a, b]) {
        expect(r.result).toBe('ok');
        expect(String(r.sdp)).toMatch(/^m=audio \d+ RTP\/AVP 0\r?$/m);
      }
    } finally {
      udp.close();
      tcp.close();
    }
  });
});
