// Pluggable ng media servers for e2e tests: Debian rtpengine (the reference) and Tandem's CLI,
// started with the same flags on purpose.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestNgClient } from './ng.js';
import { peerPath, type PeerName } from '../../helpers/peers.js';
import { freeUdpPort, randomPortRange, startProcess, waitFor, type RunningProcess } from './proc.js';

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const RTPENGINE_BIN = peerPath('rtpengine') ?? '/usr/bin/rtpengine';
export const TANDEM_CLI = join(REPO_ROOT, 'dist/cli/tandem.js');

export type MediaServerKind = 'rtpengine' | 'tandem';

/** The real peers a media server kind needs. */
export function peersFor(kind: MediaServerKind): PeerName[] {
  return kind === 'rtpengine' ? ['rtpengine'] : [];
}

export interface MediaServer {
  kind: MediaServerKind;
  proc: RunningProcess;
  ng: { host: string; port: number };
  ports: { min: number; max: number };
  stop(): Promise<void>;
}

/**
 * The servers to run the e2e suites against: rtpengine and Tandem (a group for rtpengine is registered
 * even when it is not installed, and skipped or failed by describeWithPeers; Tandem's fails with a
 * clear message if dist/cli/tandem.js is missing). E2E_MEDIA_SERVERS=rtpengine,tandem narrows it.
 */
export function mediaServerKinds(): MediaServerKind[] {
  const all: MediaServerKind[] = ['rtpengine', 'tandem'];
  const only = process.env.E2E_MEDIA_SERVERS?.split(',').map((s) => s.trim()).filter(Boolean);
  return only ? all.filter((k) => only.includes(k)) : all;
}

/** Sends ng `ping` until `pong` (bounded). */
export async function waitForNgPong(ng: { host: string; port: number }, opts: { timeoutMs?: number; abort?: () => string | undefined } = {}): Promise<void> {
  const client = new TestNgClient({ ...ng, timeoutMs: 200, retries: 0 });
  try {
    await waitFor(
      `ng pong from ${ng.host}:${ng.port}`,
      async () => (await client.request({ command: 'ping' })).result === 'pong',
      { timeoutMs: opts.timeoutMs ?? 10_000, intervalMs: 100, abort: opts.abort },
    );
  } finally {
    client.close();
  }
}

/** `extraArgs` go to either server as they are (both take e.g. `--recording-dir`, `--recording-method`). */
export async function startMediaServer(kind: MediaServerKind, logDir: string, extraArgs: readonly string[] = []): Promise<MediaServer> {
  const ngPort = await freeUdpPort();
  const ports = randomPortRange(100);
  const common = [
    '--interface=127.0.0.1',
    `--listen-ng=127.0.0.1:${ngPort}`,
    `--port-min=${ports.min}`,
    `--port-max=${ports.max}`,
    ...extraArgs,
  ];
  let proc: RunningProcess;
  if (kind === 'rtpengine') {
    proc = startProcess({
      name: 'rtpengine',
      cmd: RTPENGINE_BIN,
      // --delete-delay=0: rtpengine keeps a deleted call (and lists it) for 30 s by default; the tests
      // assert what Tandem does, i.e. that `delete` removes the call at once.
      args: ['--config-file=none', ...common, '--table=-1', '--delete-delay=0', '--foreground', '--log-stderr'],
      logDir,
    });
  } else {
    if (!existsSync(TANDEM_CLI)) {
      throw new Error(`${TANDEM_CLI} does not exist: run \`npm run build\` first`);
    }
    proc = startProcess({
      name: 'tandem',
      cmd: process.execPath,
      // TANDEM_IO picks the media socket layer, as for the in-process Tandems (test/helpers/tandem.ts).
      args: [TANDEM_CLI, ...common, '--num-threads=2', '--log-level=warn', '--listen-sip=none', '--listen-http=off', ...(process.env.TANDEM_IO ? [`--io=${process.env.TANDEM_IO}`] : [])],
      cwd: REPO_ROOT,
      logDir,
    });
  }
  const ng = { host: '127.0.0.1', port: ngPort };
  try {
    await waitForNgPong(ng, {
      timeoutMs: 10_000,
      abort: () => (proc.hasExited() ? `${kind} exited early; log tail:\n${proc.tail()}` : undefined),
    });
  } catch (err) {
    await proc.stop();
    throw err;
  }
  return { kind, proc, ng, ports, stop: () => proc.stop() };
}
