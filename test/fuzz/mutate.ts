import type { Rand } from './prng.js';

/**
 * Mutators for the fuzz targets. Each takes a real seed (an SDP, a SIP request, a packet) and
 * applies one to three damaging edits; which edits ran is returned so a failure can say what it did.
 */

/** Numbers that break range checks: 16-bit port edges, sign, 2^31/2^32, more digits than any int. */
export const EXTREME_NUMBERS = ['0', '-1', '1', '127', '128', '255', '256', '65535', '65536', '70000', '2147483647', '2147483648', '4294967295', '4294967296', '9007199254740993', '9'.repeat(40), '-0', '00000000000000000008', '1e3', '0x10', ''];
const UNICODE = ['é', '\u202e', '😀', '\ufffd', '\u0000', 'ß'.repeat(20), '\u2028', '\ud800'];
/** Things a peer might write where a token belongs. */
const ODD_TOKENS = ['1234', '0', '65536', '', ' ', '-', '/', ';', ':', '=', '<', '>', '"', '\\', '%00', 'PCMU', 'telephone-event', 'opus'];

export interface Mutated<T> {
  value: T;
  ops: string[];
}

function replaceRange(s: string, start: number, end: number, by: string): string {
  return s.slice(0, start) + by + s.slice(end);
}

/** Every match of `re` in `s`, with positions. */
function matches(s: string, re: RegExp): { index: number; text: string }[] {
  return [...s.matchAll(new RegExp(re.source, re.flags.includes('g') ? re.flags : `${re.flags}g`))].map((m) => ({ index: m.index ?? 0, text: m[0] }));
}

type TextOp = (s: string, r: Rand) => string;

/** Lines are split on LF; a CR, if present, stays with its line, so CRLF/LF mixes survive edits. */
const TEXT_OPS: Record<string, TextOp> = {
  numberExtreme: (s, r) => {
    const ms = matches(s, /\d+/);
    if (ms.length === 0) return s;
    const m = r.pick(ms);
    return replaceRange(s, m.index, m.index + m.text.length, r.pick(EXTREME_NUMBERS));
  },
  digitName: (s, r) => {
    // All-digit names: a codec, a transport, a method, a header name.
    const ms = matches(s, /[A-Za-z][A-Za-z-]{2,}/);
    if (ms.length === 0) return s;
    const m = r.pick(ms);
    return replaceRange(s, m.index, m.index + m.text.length, String(r.int(100000)));
  },
  oddToken: (s, r) => {
    const ms = matches(s, /[A-Za-z0-9-]+/);
    if (ms.length === 0) return s;
    const m = r.pick(ms);
    return replaceRange(s, m.index, m.index + m.text.length, r.pick(ODD_TOKENS));
  },
  emptyValue: (s, r) => {
    const lines = s.split('\n');
    const i = r.int(lines.length);
    const cut = lines[i].search(/[:=]/);
    if (cut < 0) return s;
    lines[i] = lines[i].slice(0, cut + 1) + (lines[i].endsWith('\r') ? '\r' : '');
    return lines.join('\n');
  },
  oversize: (s, r) => {
    const lines = s.split('\n');
    const i = r.int(lines.length);
    // Up to ~30 kB even in 2-byte characters: a SIP or ng datagram must still fit in UDP.
    const n = r.pick([300, 1500, 9000, 15000]);
    lines[i] = lines[i].replace(/\r?$/, (end) => r.pick(['A', '9', ' ', ';x=', ',', 'é']).repeat(n) + end);
    return lines.join('\n');
  },
  duplicateLine: (s, r) => {
    const lines = s.split('\n');
    const i = r.int(lines.length);
    const times = r.pick([1, 1, 2, 50]);
    lines.splice(i, 0, ...Array<string>(times).fill(lines[i]));
    return lines.join('\n');
  },
  deleteLine: (s, r) => {
    const lines = s.split('\n');
    lines.splice(r.int(lines.length), 1);
    return lines.join('\n');
  },
  swapLines: (s, r) => {
    const lines = s.split('\n');
    const i = r.int(lines.length);
    const j = r.int(lines.length);
    [lines[i], lines[j]] = [lines[j], lines[i]];
    return lines.join('\n');
  },
  lineEnds: (s, r) => {
    const mode = r.int(4);
    if (mode === 0) return s.replace(/\r\n/g, '\n');
    if (mode === 1) return s.replace(/\r?\n/g, (x) => (r.chance(0.5) ? '\r\n' : '\n'));
    if (mode === 2) return s.replace(/\r?\n/g, '\r');
    return s.replace(/\r?\n/, '\r\n\r\n');
  },
  nul: (s, r) => {
    const at = r.int(s.length + 1);
    return replaceRange(s, at, at, '\u0000');
  },
  unicode: (s, r) => {
    const at = r.int(s.length + 1);
    return replaceRange(s, at, at, r.pick(UNICODE));
  },
  truncate: (s, r) => s.slice(0, r.int(s.length + 1)),
  whitespace: (s, r) => {
    const ms = matches(s, /[ :=/]/);
    if (ms.length === 0) return s;
    const m = r.pick(ms);
    return replaceRange(s, m.index, m.index + 1, r.pick(['', '  ', '\t', ' \t ', `${m.text}${m.text}`]));
  },
};

export const TEXT_OP_NAMES = Object.keys(TEXT_OPS);

export function mutateText(s: string, r: Rand, extraOps: Record<string, TextOp> = {}): Mutated<string> {
  const ops = { ...TEXT_OPS, ...extraOps };
  const names = Object.keys(ops);
  const n = 1 + r.int(3);
  const done: string[] = [];
  let v = s;
  for (let k = 0; k < n; k++) {
    const name = r.pick(names);
    v = ops[name](v, r);
    done.push(name);
  }
  return { value: v, ops: done };
}

/** SDP-aware edits on top of the text ones: they hit the fields the media plane acts on. */
const SDP_FIELD_VALUES = (r: Rand): string[] => [
  `a=rtcp:${r.pick(EXTREME_NUMBERS)}`,
  `a=rtcp:${r.pick(EXTREME_NUMBERS)} IN IP4 127.0.0.1`,
  'a=rtcp-mux',
  `a=ptime:${r.pick(EXTREME_NUMBERS)}`,
  `a=maxptime:${r.pick(EXTREME_NUMBERS)}`,
  `a=rtpmap:${r.pick(EXTREME_NUMBERS)} PCMU/8000`,
  `a=rtpmap:${r.int(128)} ${r.pick(ODD_TOKENS)}/${r.pick(EXTREME_NUMBERS)}`,
  `a=rtpmap:${r.int(128)} ${String(r.int(100000))}/8000`,
  `a=rtpmap:101 telephone-event/${r.pick(EXTREME_NUMBERS)}`,
  `a=fmtp:${r.int(128)} ${r.pick(['0-15', '0-99999', '', 'a=b;;;', '-', `${r.pick(EXTREME_NUMBERS)}-0`])}`,
  `a=crypto:${r.pick(EXTREME_NUMBERS)} AES_CM_128_HMAC_SHA1_80 inline:${r.pick(['', 'AAAA', 'x'.repeat(40), 'WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:32'])}`,
  `a=fingerprint:sha-256 ${r.pick(['', 'AB', 'ZZ:'.repeat(32), '00:'.repeat(31) + '00'])}`,
  `a=setup:${r.pick(['actpass', 'active', 'passive', 'holdconn', '', '1234'])}`,
  `a=ice-ufrag:${r.pick(['', 'a', 'x'.repeat(300)])}`,
  `a=ice-pwd:${r.pick(['', 'short', 'p'.repeat(300)])}`,
  `a=candidate:1 1 UDP ${r.pick(EXTREME_NUMBERS)} 127.0.0.1 ${r.pick(EXTREME_NUMBERS)} typ host`,
  `a=mid:${r.pick(['', '0', 'x'.repeat(200)])}`,
  `a=group:BUNDLE ${r.pick(['', '0', '0 0 0', 'nope'])}`,
  `a=${r.pick(['sendonly', 'recvonly', 'inactive', 'sendrecv', ''])}`,
  `c=IN IP4 ${r.pick(['0.0.0.0', '255.255.255.255', '127.0.0.1', '999.1.1.1', '', '::1', '127.0.0.1/127'])}`,
  `c=IN IP6 ${r.pick(['::1', '::', 'fe80::1%lo', ''])}`,
  `b=AS:${r.pick(EXTREME_NUMBERS)}`,
];

const SDP_OPS: Record<string, TextOp> = {
  mPort: (s, r) => s.replace(/^(m=\w+ )(\d+)/m, (_m, a: string) => `${a}${r.pick(EXTREME_NUMBERS)}`),
  mPortCount: (s, r) => s.replace(/^(m=\w+ \d+)/m, (_m, a: string) => `${a}/${r.pick(EXTREME_NUMBERS)}`),
  mProto: (s, r) => s.replace(/^(m=\w+ \d+(?:\/\d+)? )(\S+)/m, (_m, a: string) => `${a}${r.pick(['RTP/AVP', 'RTP/SAVP', 'RTP/SAVPF', 'UDP/TLS/RTP/SAVPF', 'TCP/RTP/AVP', 'udp', '1234', ''])}`),
  mFormats: (s, r) => s.replace(/^(m=\w+ \d+(?:\/\d+)? \S+)(.*)$/m, (_m, a: string) => `${a} ${Array.from({ length: r.pick([0, 1, 3, 200]) }, () => r.pick(EXTREME_NUMBERS)).join(' ')}`),
  codecName: (s, r) => {
    // The encoding name of a payload type the m= line lists: all digits, empty, odd.
    const ms = matches(s, /^a=rtpmap: *\d+ +[^/\r\n]*/m);
    if (ms.length === 0) return s;
    const m = r.pick(ms);
    const at = m.text.search(/ [^ ]*$/) + 1;
    return replaceRange(s, m.index + at, m.index + m.text.length, r.pick([String(r.int(100000)), '', r.pick(ODD_TOKENS), 'PCMU'.repeat(r.pick([1, 100]))]));
  },
  insertField: (s, r) => {
    const lines = s.split('\n');
    const cr = s.includes('\r\n') ? '\r' : '';
    const at = 1 + r.int(Math.max(1, lines.length - 1));
    lines.splice(at, 0, r.pick(SDP_FIELD_VALUES(r)) + cr);
    return lines.join('\n');
  },
  secondMedia: (s, r) => `${s.replace(/\r?\n?$/, '')}\r\nm=${r.pick(['audio', 'video', 'application', '1234'])} ${r.pick(EXTREME_NUMBERS)} RTP/AVP 0\r\n`,
};

export function mutateSdp(sdp: string, r: Rand): Mutated<string> {
  // Field-aware edits half the time, so m=/a=rtcp/a=rtpmap extremes come up in a few hundred tries.
  return mutateText(sdp, r, r.chance(0.5) ? SDP_OPS : {});
}

/** Byte-level damage for binary packets (RTP, RTCP, STUN, DTLS) and raw datagrams. */
export function mutateBytes(b: Buffer, r: Rand): Mutated<Buffer> {
  let v = Buffer.from(b);
  const done: string[] = [];
  const n = 1 + r.int(3);
  for (let k = 0; k < n; k++) {
    const op = r.int(9);
    if (op === 0 && v.length > 0) {
      const i = r.int(v.length);
      v[i] ^= 1 << r.int(8);
      done.push('bitFlip');
    } else if (op === 1 && v.length > 0) {
      v[r.int(v.length)] = r.u32() & 0xff;
      done.push('byteSet');
    } else if (op === 2) {
      v = v.subarray(0, r.int(v.length + 1));
      done.push('truncate');
    } else if (op === 3) {
      v = Buffer.concat([v, r.bytes(r.pick([1, 4, 16, 200, 1400]))]);
      done.push('append');
    } else if (op === 4 && v.length >= 2) {
      // A 16-bit length/sequence field set to an edge.
      const i = r.int(v.length - 1);
      v.writeUInt16BE(r.pick([0, 1, 0x7fff, 0x8000, 0xfffe, 0xffff]), i);
      done.push('u16Edge');
    } else if (op === 5 && v.length >= 4) {
      const i = r.int(v.length - 3);
      v.writeUInt32BE(r.pick([0, 1, 0x7fffffff, 0x80000000, 0xffffffff]), i);
      done.push('u32Edge');
    } else if (op === 6) {
      v = Buffer.concat([v, v]);
      done.push('duplicate');
    } else if (op === 7 && v.length > 0) {
      const i = r.int(v.length);
      const len = r.int(v.length - i + 1);
      v = Buffer.concat([v.subarray(0, i), v.subarray(i + len)]);
      done.push('cut');
    } else {
      v = Buffer.concat([v.subarray(0, 1), Buffer.alloc(r.int(8)), v.subarray(1)]);
      done.push('zeros');
    }
  }
  return { value: v, ops: done };
}
