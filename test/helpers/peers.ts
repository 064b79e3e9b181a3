// Real peers (Debian programs) that some tests drive. A missing peer is never silent: the tests
// that need it are registered as skipped with the reason in their title, the run ends with a list
// of what was skipped and the one command that installs it, and with REQUIRE_PEERS=1 (CI) the
// same group fails instead.
import { accessSync, appendFileSync, constants, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';

export type PeerName = 'kamailio' | 'rtpengine' | 'sipp' | 'sox' | 'dumpcap' | 'chromium' | 'openssl' | 'unshare' | 'svwar' | 'svcrack' | 'dnsmasq' | 'ffmpeg' | 'cc' | 'prometheus' | 'addon' | 'redis' | 'tshark' | 'liburing';

interface PeerSpec {
  /** The command looked up on PATH. */
  command: string;
  /** The Debian package that brings it. */
  pkg: string;
  /** Files the tests use besides the command (SIPp's sample pcap, Chromium's real binary). */
  files?: string[];
}

const PEERS: Record<PeerName, PeerSpec> = {
  kamailio: { command: 'kamailio', pkg: 'kamailio' },
  rtpengine: { command: 'rtpengine', pkg: 'rtpengine-daemon' },
  sipp: { command: 'sipp', pkg: 'sip-tester', files: ['/usr/share/sip-tester/g711a.pcap'] },
  sox: { command: 'sox', pkg: 'sox' },
  dumpcap: { command: 'dumpcap', pkg: 'wireshark-common' },
  chromium: { command: 'chromium', pkg: 'chromium', files: ['/usr/lib/chromium/chromium'] },
  openssl: { command: 'openssl', pkg: 'openssl' },
  unshare: { command: 'unshare', pkg: 'util-linux' },
  // sipvicious's scanner and password guesser, the attackers of test/e2e/sipvicious.test.ts.
  svwar: { command: 'svwar', pkg: 'sipvicious' },
  svcrack: { command: 'svcrack', pkg: 'sipvicious' },
  // The loopback DNS server of test/integration/b2bua-dns.test.ts (the binary, without dnsmasq's system service).
  dnsmasq: { command: 'dnsmasq', pkg: 'dnsmasq-base' },
  // libavcodec's G.722, the independent implementation test/unit/media/codecs/g722.test.ts interoperates with.
  ffmpeg: { command: 'ffmpeg', pkg: 'ffmpeg' },
  // The C compiler the bench builds its yardstick relay with (test/integration/bench-relay-limit.test.ts).
  cc: { command: 'cc', pkg: 'gcc' },
  // Debian's Prometheus exposition parser (python3-prometheus-client), run by Debian's own python3, reads /metrics.
  prometheus: { command: 'python3', pkg: 'python3-prometheus-client', files: ['/usr/bin/python3', '/usr/lib/python3/dist-packages/prometheus_client/parser.py'] },
  // The compiler node-gyp builds the batched UDP addon with at npm install (native/build.mjs); the
  // addon itself must be there too (npm run build:native builds it).
  addon: { command: 'g++', pkg: 'build-essential python3', files: [fileURLToPath(new URL('../../native/build/Release/udp_batch.node', import.meta.url))] },
  // The shared state of --redis (test/integration/redis-takeover.test.ts starts its own on a free loopback port).
  redis: { command: 'redis-server', pkg: 'redis-server' },
  // Decodes the pcap recordings of test/integration/recording.test.ts.
  tshark: { command: 'tshark', pkg: 'tshark' },
  // The io_uring variant of the bench's C relay (bench --c-relay uring) links liburing.
  liburing: { command: 'cc', pkg: 'liburing-dev', files: ['/usr/include/liburing.h'] },
};

/** Env var through which test workers report skipped groups to the global teardown. */
export const SKIP_LOG_ENV = 'TANDEM_PEER_SKIP_LOG';

/** The absolute path of `command` on PATH, or undefined. */
export function which(command: string, path = process.env.PATH ?? ''): string | undefined {
  for (const dir of path.split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Where a peer's command is, or undefined when it (or a file it needs) is missing. */
export function peerPath(name: PeerName): string | undefined {
  const spec = PEERS[name];
  const found = which(spec.command);
  if (found === undefined) return undefined;
  if (spec.files !== undefined && !spec.files.every((f) => existsSync(f))) return undefined;
  return found;
}

/** The path of a peer's command, for spawning it; throws naming the package when it is missing. */
export function requirePeerPath(name: PeerName): string {
  const p = peerPath(name);
  if (p === undefined) throw new Error(`${PEERS[name].command} not found on PATH: ${installCommand([name])}`);
  return p;
}

export function missingPeers(needs: readonly PeerName[]): PeerName[] {
  return needs.filter((n) => peerPath(n) === undefined);
}

export function installCommand(names: readonly PeerName[]): string {
  const pkgs = [...new Set(names.map((n) => PEERS[n].pkg))];
  return `apt-get update && apt-get install -y --no-install-recommends ${pkgs.join(' ')}`;
}

export function peersRequired(): boolean {
  return process.env.REQUIRE_PEERS === '1';
}

function recordSkip(title: string, missing: readonly PeerName[]): void {
  const file = process.env[SKIP_LOG_ENV];
  if (file === undefined) return;
  appendFileSync(file, `${JSON.stringify({ title, missing })}\n`);
}

function why(missing: readonly PeerName[]): string {
  return `needs ${missing.map((n) => PEERS[n].command).join(', ')}; install: ${installCommand(missing)}`;
}

/**
 * `describe` for a group that drives real peers. All present: a plain describe. Some missing: the
 * group is registered as skipped (its tests count as skipped) with the reason in its title, or, with
 * REQUIRE_PEERS=1, it becomes one failing test that names what is missing.
 */
export function describeWithPeers(title: string, needs: readonly PeerName[], body: () => void): void {
  const missing = missingPeers(needs);
  if (missing.length === 0) {
    describe(title, body);
    return;
  }
  recordSkip(title, missing);
  if (peersRequired()) {
    describe(title, () => {
      it('has its real peers', () => {
        throw new Error(`REQUIRE_PEERS=1 and this group ${why(missing)}`);
      });
    });
    return;
  }
  describe.skip(`${title} [skipped: ${why(missing)}]`, body);
}

/** `it` for one test that needs real peers; same rules as describeWithPeers. */
export function itWithPeers(title: string, needs: readonly PeerName[], body: () => unknown, timeout?: number): void {
  const missing = missingPeers(needs);
  if (missing.length === 0) {
    it(title, async () => {
      await body();
    }, timeout);
    return;
  }
  recordSkip(title, missing);
  if (peersRequired()) {
    it(title, () => {
      throw new Error(`REQUIRE_PEERS=1 and this test ${why(missing)}`);
    });
    return;
  }
  it.skip(`${title} [skipped: ${why(missing)}]`, () => undefined);
}
