// Debian's dnsmasq on loopback as the authoritative server of a `.test` zone, for the RFC 3263
// tests: `records(port)` gives its --srv-host/--naptr-record/--host-record options. `--local=/test/`
// makes it answer NXDOMAIN for any other .test name; it asks nobody upstream (--no-resolv).
import { spawn, type ChildProcess } from 'node:child_process';
import { Resolver } from 'node:dns/promises';
import { requirePeerPath } from './peers.js';

export interface Dnsmasq {
  proc: ChildProcess;
  port: number;
  /** what dnsmasq printed (the reason when it refused its options). */
  output(): string;
  stop(): void;
}

/** Starts dnsmasq on a random port; ready once `probe` (an SRV name) gets an answer. Bounded: 5 ports × 20 probes. */
export async function startDnsmasq(records: () => string[], probe = '_sip._udp.trunk.test'): Promise<Dnsmasq> {
  const bin = requirePeerPath('dnsmasq');
  let out = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 40000);
    const proc = spawn(bin, ['--no-daemon', `--port=${port}`, '--listen-address=127.0.0.1', '--bind-interfaces', '--no-resolv', '--no-hosts', '--local=/test/', '--conf-file=/dev/null', ...records()], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
    let exited = false;
    proc.once('exit', () => (exited = true));
    const r = new Resolver({ timeout: 200, tries: 1 });
    r.setServers([`127.0.0.1:${port}`]);
    // A port in use makes it exit: try another.
    for (let i = 0; i < 20 && !exited; i++) {
      const ok = await r.resolveSrv(probe).then(() => true, (err: { code?: string }) => err.code === 'ENOTFOUND' || err.code === 'ENODATA');
      if (ok) return { proc, port, output: () => out, stop: () => proc.kill() };
      await new Promise((res) => setTimeout(res, 50));
    }
    proc.kill();
  }
  throw new Error(`dnsmasq did not start: ${out.slice(-500)}`);
}
