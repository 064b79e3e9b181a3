// Debian's redis-server on loopback for the --redis tests: its own process on a free port, nothing
// written to disk (`--save '' --appendonly no`), killed at the end.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { requirePeerPath } from './peers.js';

export interface RedisServer {
  proc: ChildProcess;
  port: number;
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/** One line of RESP to the server, its first reply line back (bounded by `timeoutMs`). */
export function redisCommand(port: number, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let buf = '';
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('redis did not answer'));
    }, 1000);
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('connect', () => sock.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`));
    sock.on('data', (d) => {
      buf += d.toString();
      if (!buf.includes('\r\n')) return;
      clearTimeout(timer);
      sock.destroy();
      resolve(buf);
    });
  });
}

/** Starts redis-server on a random loopback port; ready once it answers PING. Bounded: 5 ports × 40 probes. */
export async function startRedis(): Promise<RedisServer> {
  const bin = requirePeerPath('redis');
  let out = '';
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    const proc = spawn(bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', '/tmp'], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
    proc.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-4000)));
    let exited = false;
    proc.once('exit', () => (exited = true));
    for (let i = 0; i < 40 && !exited; i++) {
      const pong = await redisCommand(port, 'PING').catch(() => '');
      if (pong.startsWith('+PONG')) {
        return {
          proc, port, url: `redis://127.0.0.1:${port}`, output: () => out,
          stop: () => new Promise<void>((r) => {
            if (proc.exitCode !== null) return r();
            proc.once('exit', () => r());
            proc.kill('SIGKILL');
          }),
        };
      }
      await new Promise((res) => setTimeout(res, 50));
    }
    proc.kill('SIGKILL');
  }
  throw new Error(`redis-server did not start: ${out.slice(-500)}`);
}
