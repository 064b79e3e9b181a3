// Starts Debian's Kamailio 5.6 in the foreground with a test config and waits until it answers SIP.
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { SipUa } from './sip-ua.js';
import { peerPath } from '../../helpers/peers.js';
import { freeUdpPort, startProcess, waitFor, type RunningProcess } from './proc.js';

/** Kamailio as found on PATH (Debian: /usr/sbin/kamailio). */
export const KAMAILIO_BIN = peerPath('kamailio') ?? '/usr/sbin/kamailio';

export interface Kamailio {
  proc: RunningProcess;
  sip: { address: string; port: number };
  args: string[];
  stop(): Promise<void>;
}

export interface KamailioOptions {
  cfg: string;
  logDir: string;
  /** ng socket of the media server (or of a tap in front of it). */
  ng: { host: string; port: number };
  /** Where every INVITE is sent. */
  calleeUri: string;
  /** Extra `-A NAME=value` defines. */
  defines?: Record<string, string>;
}

export async function startKamailio(opts: KamailioOptions): Promise<Kamailio> {
  if (!existsSync(KAMAILIO_BIN)) throw new Error(`${KAMAILIO_BIN} is not installed (apt-get install kamailio)`);
  const port = await freeUdpPort();
  const runDir = join(opts.logDir, 'kamailio-run');
  mkdirSync(runDir, { recursive: true });
  const defines: Record<string, string> = {
    SIP_LISTEN: `udp:127.0.0.1:${port}`,
    NG_SOCK: `"udp:${opts.ng.host}:${opts.ng.port}"`,
    CALLEE_URI: `"${opts.calleeUri}"`,
    ...opts.defines,
  };
  const args = [
    '-f', opts.cfg,
    '-DD', // do not daemonize: the process we spawn stays the main process (children are forked)
    '-E', // log to stderr (our log file)
    '-P', join(runDir, 'kamailio.pid'),
    '-Y', runDir, // runtime dir: the default /run/kamailio may not exist
    '-w', runDir, // working dir (core files)
    '-m', '64', // shared memory, MB
    '-M', '8', // private memory per process, MB
    '-n', '2', // 2 UDP workers are plenty
    ...Object.entries(defines).flatMap(([k, v]) => ['-A', `${k}=${v}`]),
  ];
  const proc = startProcess({ name: 'kamailio', cmd: KAMAILIO_BIN, args, logDir: opts.logDir });
  const sip = { address: '127.0.0.1', port };
  const probe = await SipUa.create('probe');
  try {
    await waitFor(
      `kamailio to answer OPTIONS on ${port}`,
      async () => (await probe.options(sip, 400)).status === 200,
      {
        timeoutMs: 10_000,
        intervalMs: 100,
        abort: () => (proc.hasExited() ? `kamailio exited; log tail:\n${proc.tail()}` : undefined),
      },
    );
  } catch (err) {
    await proc.stop();
    throw err;
  } finally {
    probe.close();
  }
  return { proc, sip, args, stop: () => proc.stop() };
}
