import { it, expect, beforeAll, afterAll } from 'vitest';
import net from 'node:net';
import { writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithPeers } from '../helpers/peers.js';
import { TcpNg } from '../helpers/ng-tcp.js';
import { sdpFor } from '../helpers/rtp-peer.js';
import { makeTempDir, freeUdpPort, startProcess, type RunningProcess } from './helpers/proc.js';
import { RTPENGINE_BIN, REPO_ROOT, TANDEM_CLI, mediaServerKinds, peersFor, waitForNgPong, type MediaServerKind } from './helpers/media-servers.js';
import type { BDict } from '../../src/control/bencode.js';

/**
 * One rtpengine.conf for both: Debian's rtpengine and Tandem's CLI start from the same file (its
 * [rtpengine] section; Tandem also reads [tandem]) and are driven over ng on TCP the same way:
 * pipelined messages, a message cut into small writes, a cookie sent again on a new connection.
 * Replies are framed by Tandem's own framer, so rtpengine's replies check that framing too.
 */

async function freeTcpPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

for (const kind of mediaServerKinds()) describeWithPeers(`one rtpengine.conf, ng over TCP → ${kind}`, peersFor(kind as MediaServerKind), () => {
  let proc: RunningProcess;
  let tcpPort: number;

  beforeAll(async () => {
    const dir = makeTempDir(`ngtcp-${kind}`);
    const udpPort = await freeUdpPort();
    tcpPort = await freeTcpPort();
    // 30000–32767: below the ephemeral range and above where the other tests' media ports go
    // (rtpengine 10.5 answers "Ran out of ports" when its first pick is busy).
    const min = 30000 + 2 * Math.floor(Math.random() * 880);
    const ports = { min, max: min + 999 };
    const conf = join(dir, 'rtpengine.conf');
    writeFileSync(conf, [
      '[rtpengine]',
      'table = -1',
      'interface = 127.0.0.1',
      `listen-ng = 127.0.0.1:${udpPort}`,
      `listen-tcp-ng = 127.0.0.1:${tcpPort}`,
      `port-min = ${ports.min}`,
      `port-max = ${ports.max}`,
      'delete-delay = 0',
      'log-level = 4',
      'log-stderr = true',
      'foreground = true',
      '',
      '[tandem]',
      'listen-sip = none',
      'num-threads = 1',
      '',
    ].join('\n'));
    if (kind === 'tandem' && !existsSync(TANDEM_CLI)) throw new Error(`${TANDEM_CLI} does not exist: run \`npm run build\` first`);
    proc = kind === 'rtpengine'
      ? startProcess({ name: 'rtpengine', cmd: RTPENGINE_BIN, args: [`--config-file=${conf}`], logDir: dir })
      : startProcess({ name: 'tandem', cmd: process.execPath, args: [TANDEM_CLI, `--config-file=${conf}`, '--listen-http=off'], cwd: REPO_ROOT, logDir: dir });
    await waitForNgPong({ host: '127.0.0.1', port: udpPort }, { abort: () => (proc.hasExited() ? `${kind} exited early:\n${proc.tail()}` : undefined) });
  });
  afterAll(async () => {
    await proc?.stop();
  });

  const offer = (callId: string): BDict => ({
    command: 'offer', 'call-id': callId, 'from-tag': 'a', sdp: sdpFor({ port: 40900, pts: [8], rtpmaps: ['8 PCMA/8000'] }),
    flags: ['trust-address'], replace: ['origin'], codec: { mask: ['PCMA'], transcode: ['PCMU'] },
  });

  it('answers pipelined messages and a message cut into small writes, framed the same way', async () => {
    const c = await TcpNg.connect(tcpPort);
    try {
      const id = `ngtcp-${kind}-${process.pid}`;
      c.write(Buffer.concat([TcpNg.frame(`${id}-p`, { command: 'ping' }), TcpNg.frame(`${id}-o`, offer(id)), TcpNg.frame(`${id}-q`, { command: 'query', 'call-id': id })]));
      expect(await c.reply(`${id}-p`)).toEqual({ result: 'pong' });
      const o = await c.reply(`${id}-o`);
      expect(o.result, `${kind}: ${JSON.stringify(o)}\n${proc.tail(10)}`).toBe('ok');
      expect(String(o.sdp)).toMatch(/^m=audio \d+ RTP\/AVP 0\r?$/m);
      const q = await c.reply(`${id}-q`);
      expect(q.result, JSON.stringify(q)).toBe("ok");
      // rtpengine closes a connection holding over 1024 bytes of an unfinished message: stay under.
      const del = TcpNg.frame(`${id}-d`, { command: 'delete', 'call-id': id });
      expect(del.length).toBeLessThan(1024);
      for (let at = 0; at < del.length; at += 7) {
        c.write(del.subarray(at, at + 7));
        await new Promise((r) => setImmediate(r));
      }
      const d = await c.reply(`${id}-d`);
      expect(d.result, JSON.stringify(d)).toBe("ok");
    } finally {
      c.close();
    }
  });

  it('answers a cookie sent again on a new connection with the first reply, not a second run', async () => {
    const id = `ngtcp-again-${kind}-${process.pid}`;
    const first = await TcpNg.connect(tcpPort);
    first.write(TcpNg.frame(`${id}-o`, offer(id)));
    const r1 = await first.reply(`${id}-o`);
    first.close();
    const second = await TcpNg.connect(tcpPort);
    second.write(TcpNg.frame(`${id}-o`, offer(id)));
    expect(await second.reply(`${id}-o`)).toEqual(r1);
    expect((await second.request({ command: 'delete', 'call-id': id })).result).toBe('ok');
    second.close();
  });

  if (kind === 'tandem')
    it("logs the file's rtpengine-only options once, as ignored", () => {
      const log = readFileSync(proc.logPath, 'utf8').split('\n').filter((l) => l.includes('options Tandem does not have are ignored'));
      expect(log).toHaveLength(1);
      const line = JSON.parse(log[0]) as { rtpengineOnly: string[]; unknown: string[] };
      expect(line.rtpengineOnly.map((x) => x.split(' ')[0])).toEqual(['table', 'delete-delay', 'log-stderr', 'foreground']);
      expect(line.unknown).toEqual([]);
    });
});
