import dgram from 'node:dgram';
import { decode, type BDict } from '../../src/control/bencode.js';
import { rtpSeed, rtcpSeed } from './seeds.js';
import { isValidCookie, MAX_COOKIE_LENGTH } from '../../src/control/ng-wire.js';

/**
 * An ng client for the fuzzer: replies are matched by cookie, so a late reply to one case can
 * never be taken for the reply to the next.
 */
export class NgProbe {
  readonly socket = dgram.createSocket('udp4');
  private readonly waiting = new Map<string, (b: Buffer) => void>();

  private constructor(private readonly port: number) {}

  static async open(port: number): Promise<NgProbe> {
    const p = new NgProbe(port);
    p.socket.on('message', (m) => {
      const sp = m.indexOf(0x20);
      const cookie = m.toString('latin1', 0, sp < 0 ? 0 : sp);
      const w = p.waiting.get(cookie);
      if (w !== undefined) {
        p.waiting.delete(cookie);
        w(m);
      }
    });
    await new Promise<void>((r) => p.socket.bind(0, '127.0.0.1', () => r()));
    return p;
  }

  /** Sends a datagram; resolves with the reply carrying `cookie`, or undefined after `timeoutMs`. */
  send(datagram: Buffer, cookie: string | undefined, timeoutMs: number): Promise<Buffer | undefined> {
    return new Promise((resolve) => {
      if (cookie === undefined) {
        this.socket.send(datagram, this.port, '127.0.0.1', () => resolve(undefined));
        return;
      }
      const t = setTimeout(() => {
        this.waiting.delete(cookie);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.set(cookie, (b) => {
        clearTimeout(t);
        resolve(b);
      });
      this.socket.send(datagram, this.port, '127.0.0.1');
    });
  }

  close(): void {
    this.socket.close();
  }
}

/** The cookie the server can read from a datagram (the same rule as ng-wire), or undefined. */
export function readableCookie(d: Buffer): string | undefined {
  const sp = d.indexOf(0x20);
  if (sp <= 0 || sp > MAX_COOKIE_LENGTH) return undefined;
  const c = d.toString('latin1', 0, sp);
  return isValidCookie(c) ? c : undefined;
}

/** Checks an ng reply: a dictionary whose result is ok/pong/load limit, or error with an error-reason. */
export function checkNgReply(reply: Buffer, cookie: string): { dict?: BDict; problem?: string } {
  const sp = reply.indexOf(0x20);
  if (reply.toString('latin1', 0, sp) !== cookie) return { problem: `reply cookie ${reply.toString('latin1', 0, sp)} != ${cookie}` };
  let d;
  try {
    d = decode(reply.subarray(sp + 1));
  } catch (err) {
    return { problem: `reply is not bencode: ${String(err)}` };
  }
  if (typeof d !== 'object' || Array.isArray(d)) return { problem: 'reply is not a dictionary' };
  const result = d.result;
  if (result === 'error') {
    if (typeof d['error-reason'] !== 'string' || d['error-reason'] === '') return { dict: d, problem: 'error reply without error-reason' };
    return { dict: d };
  }
  if (result === 'ok' || result === 'pong' || result === 'load limit') return { dict: d };
  return { dict: d, problem: `unexpected result ${JSON.stringify(result)}` };
}

/** True when every c= address in an SDP is in 127.0.0.0/8 (and there is one): media may flow there. */
export function loopbackOnly(sdp: string | undefined): boolean {
  if (sdp === undefined) return true;
  const cs = [...sdp.matchAll(/^c=([^\r\n]*)/gm)].map((m) => m[1]);
  return cs.length > 0 && cs.every((c) => /^IN IP4 127\.\d{1,3}\.\d{1,3}\.\d{1,3}\s*$/.test(c));
}

/**
 * RTP and RTCP to each port a reply SDP names, so the media plane acts on what the fuzzed SDP
 * said, but only when that SDP keeps every peer on loopback (Tandem relays to what it was told).
 */
export async function pokeMedia(sock: dgram.Socket, replySdp: string, inputSdp: string | undefined): Promise<void> {
  if (!loopbackOnly(inputSdp) || !loopbackOnly(replySdp)) return;
  const ports = [...replySdp.matchAll(/^m=\S+ (\d+)/gm)].map((m) => Number(m[1])).filter((p) => p > 0 && p < 65535);
  for (const m of replySdp.matchAll(/^a=rtcp:(\d+)/gm)) ports.push(Number(m[1]) - 1);
  for (const p of ports.filter((x) => x > 0 && x < 65535)) {
    await new Promise<void>((r) => sock.send(rtpSeed(0, 7), p, '127.0.0.1', () => r()));
    if (p + 1 < 65536) await new Promise<void>((r) => sock.send(rtcpSeed(), p + 1, '127.0.0.1', () => r()));
  }
  // Let the worker act on them before the next case, so a crash is blamed on this one.
  await new Promise((r) => setTimeout(r, 5));
}

/**
 * Points a seed SDP's media at sockets the fuzzer owns before it is mutated, so what Tandem
 * relays lands on them and not on a port another test on this box may be using.
 */
export function retarget(sdp: string, rtpPort: number, rtcpPort: number): string {
  return sdp
    .replace(/\{PORT\}/g, String(rtpPort))
    .replace(/\{RTCP\}/g, String(rtcpPort))
    .replace(/^(m=\S+ )(\d+)/gm, (all, head: string, port: string) => (port === '0' ? all : `${head}${rtpPort}`))
    .replace(/^a=rtcp:\d+/gm, `a=rtcp:${rtcpPort}`)
    .replace(/^c=IN IP4 \S+/gm, 'c=IN IP4 127.0.0.1');
}
