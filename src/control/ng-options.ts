import type { BDict, BValue } from './bencode.js';
import { isIP } from 'node:net';
import { TandemError } from '../common/errors.js';
import { defaultMediaOptions, TRANSPORT_PROTOCOLS, type CodecOptions, type DtlsMode, type MediaEchoMode, type MediaOptions, type RtcpMuxMode } from '../media/api.js';
import { normalizeKey } from './ng-keys.js';
import { mergeNgValue, parseRtppFlags } from './rtpp-flags.js';

export { normalizeKey };

/**
 * ng message → typed MediaOptions. Keys and flags are accepted as rtpengine accepts them:
 * case-insensitive, with spaces, hyphens or underscores (`media echo` = `media-echo`).
 * Whatever we do not implement yet is reported in `warnings`, never silently dropped.
 */

/** A view of an ng dictionary by normalized key. */
export class NgFields {
  private readonly map = new Map<string, BValue>();

  constructor(msg: BDict) {
    for (const [k, v] of Object.entries(msg)) this.map.set(normalizeKey(k), v);
  }

  has(key: string): boolean {
    return this.map.has(key);
  }

  keys(): string[] {
    return [...this.map.keys()];
  }

  raw(key: string): BValue | undefined {
    return this.map.get(key);
  }

  set(key: string, v: BValue): void {
    this.map.set(key, v);
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  string(key: string): string | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'number') return String(v);
    throw new TandemError('BAD_REQUEST', `key "${key}" must be a string`);
  }

  requiredString(key: string): string {
    const v = this.string(key);
    if (v === undefined || v === '') throw new TandemError('BAD_REQUEST', `No ${key} in message`);
    return v;
  }

  /** A list of strings; a single string is a one-element list (ng clients send both). */
  list(key: string): string[] {
    const v = this.map.get(key);
    if (v === undefined) return [];
    if (typeof v === 'string') return [v];
    if (typeof v === 'number') return [String(v)];
    if (Array.isArray(v)) {
      return v.map((x) => {
        if (typeof x === 'string') return x;
        if (typeof x === 'number') return String(x);
        throw new TandemError('BAD_REQUEST', `key "${key}" must be a list of strings`);
      });
    }
    throw new TandemError('BAD_REQUEST', `key "${key}" must be a list of strings`);
  }

  integer(key: string, min: number, max: number): number | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^-?\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isInteger(n) || n < min || n > max)
      throw new TandemError('BAD_REQUEST', `key "${key}" must be an integer from ${min} to ${max}`);
    return n;
  }

  dict(key: string): BDict | undefined {
    const v = this.map.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || Array.isArray(v)) throw new TandemError('BAD_REQUEST', `key "${key}" must be a dictionary`);
    return v;
  }
}

const CODEC_OPS = ['strip', 'except', 'mask', 'transcode', 'offer', 'accept', 'consume'] as const;
type CodecOp = (typeof CODEC_OPS)[number];

/** Keys every ng client sends, or that the command table reads itself: no warning for them. */
const HANDLED_KEYS = new Set([
  'command', 'call-id', 'from-tag', 'to-tag', 'via-branch', 'sdp', 'flags', 'replace', 'codec', 'ptime',
  'ptime-reverse', 'reverse-ptime', 'media-echo', 'ice', 'rtcp-mux', 'received-from', 'media-address', 'address-family',
  'label', 'supports', 'rtpp-flags', 'limit', 'sip-message-type', 'sip-code', 'transport-protocol', 'sdes', 'dtls', 'direction',
  'record-call', 'metadata', 'dtmf-security',
]);

/** Flags we accept and honour. */
const BOOLEAN_FLAGS: Record<string, (o: MediaOptions) => void> = {
  'trust-address': (o) => { o.trustAddress = true; o.sipSourceAddress = false; },
  'sip-source-address': (o) => { o.sipSourceAddress = true; },
  symmetric: (o) => { o.asymmetric = false; },
  asymmetric: (o) => { o.asymmetric = true; },
  'strict-source': (o) => { o.strictSource = true; },
  'media-handover': (o) => { o.mediaHandover = true; },
  'port-latching': (o) => { o.portLatching = true; },
  'always-transcode': (o) => { o.alwaysTranscode = true; },
  'allow-transcoding': () => undefined,
  'reuse-codecs': () => undefined,
  'loop-protect': () => undefined,
  'no-rtcp-attribute': (o) => { o.noRtcpAttribute = true; },
  'generate-mid': (o) => { o.generateMid = true; },
  'reject-ice': (o) => { o.rejectIce = true; },
  // rtpengine's alias for talking to a browser (ng_control_protocol.md, `WebRTC`); trickle ICE is
  // left out: Tandem lists its one candidate up front and ends the list.
  webrtc: (o) => {
    o.transportProtocol = 'UDP/TLS/RTP/SAVPF';
    o.ice = 'force';
    for (const m of ['offer', 'require'] as const) if (!o.rtcpMux.includes(m)) o.rtcpMux.push(m);
    o.noRtcpAttribute = true;
    o.sdes.off = true;
    o.generateMid = true;
  },
  'full-rtcp-attribute': () => undefined,
  'original-sendrecv': () => undefined,
  // commands.ts applies these to the sender's leg once the offer or answer is done (ng-offer-control.ts).
  'block-dtmf': () => undefined,
  'block-media': () => undefined,
  // rtpengine needs it before `play DTMF` works on a call it does not transcode; Tandem's play DTMF
  // works on every call, so the flag asks for nothing more.
  'inject-dtmf': () => undefined,
};

/** Flags we know but whose feature is not built yet: answered with a warning. */
const UNSUPPORTED_FLAGS = new Set([
  'fatal', 'fast', 'strip-extmap', 'single-codec', 'pad-crypto', 'generate-rtcp',
  'unidirectional', 'port-latching-', 'early-media', 'trickle-ice',
  'no-jitter-buffer', 'debug', 'osrtp', 'fragment', 'all',
]);

const ECHO_MODES: Record<string, MediaEchoMode> = {
  forward: 'forward', backwards: 'backwards', backward: 'backwards', both: 'both', blackhole: 'blackhole', sinkhole: 'blackhole',
};

const RTCP_MUX: ReadonlySet<string> = new Set(['offer', 'require', 'demux', 'accept', 'reject']);

/** Keys of features we do not have yet: a warning names each one present. */
const UNSUPPORTED_KEYS = new Set([
  'xmlrpc-callback', 'tos', 'delete-delay',
  't38', 't.38', 'osrtp', 'frequency', 'volume', 'dtls-fingerprint', 'dtls-reverse', 'set-label', 'from-label',
  'to-label', 'interface', 'sdp-attr', 'output-destination', 'recording-file', 'recording-path', 'recording-pattern',
  'media-address-family', 'trigger', 'trigger-end', 'delay-buffer', 'xmlrpc', 'moh', 'blob', 'file', 'db-id',
  'repeat-times', 'repeat-duration', 'dtmf-delay', 'dtmf-security-trigger', 'dtmf-security-trigger-end', 'trigger-end-digits', 'trigger-end-time', 'dtmf-log-dest', 'all', 'from-tags', 'frequencies', 'codec-set',
]);

/**
 * Kamailio (≥ 5.8 with a second parameter) and others can send the whole flag string as
 * `rtpp-flags`; rtpengine reads it as if each token had been sent as its key or flag
 * (rtpp-flags.ts). Its keys join the message's: lists add up, a value given in both is the string's.
 * Done once: the key is gone afterwards.
 */
export function expandRtppFlags(f: NgFields): void {
  const raw = f.string('rtpp-flags');
  if (raw === undefined) return;
  f.delete('rtpp-flags');
  for (const [k, v] of Object.entries(parseRtppFlags(raw))) f.set(k, mergeNgValue(k, f.raw(k), v));
}

function addCodecEntries(codec: CodecOptions, op: CodecOp, entries: string[]): void {
  for (const e of entries) for (const part of e.split(',')) if (part.trim() !== '') codec[op].push(part.trim());
}

export interface ParsedMediaOptions {
  options: MediaOptions;
  warnings: string[];
}

/** Reads every option of an offer/answer. Throws BAD_REQUEST naming the key on a bad value. */
export function readMediaOptions(f: NgFields): ParsedMediaOptions {
  const o = defaultMediaOptions();
  const warnings: string[] = [];
  expandRtppFlags(f);

  for (const flag of f.list('flags')) {
    const codecFlag = /^codec[-_ ](strip|except|mask|transcode|offer|accept|consume|set|ignore)[-=](.+)$/i.exec(flag.trim());
    if (codecFlag !== null) {
      const op = codecFlag[1].toLowerCase();
      if ((CODEC_OPS as readonly string[]).includes(op)) addCodecEntries(o.codec, op as CodecOp, [codecFlag[2]]);
      else warnings.push(`codec-${op} not supported yet`);
      continue;
    }
    const legacyTranscode = /^transcode[-=](.+)$/i.exec(flag.trim());
    if (legacyTranscode !== null) {
      addCodecEntries(o.codec, 'transcode', [legacyTranscode[1]]);
      continue;
    }
    const name = normalizeKey(flag);
    if (name.startsWith('replace-')) {
      applyReplace(o, name.slice('replace-'.length), warnings);
      continue;
    }
    if (name.startsWith('rtcp-mux-')) {
      const mode = name.slice('rtcp-mux-'.length);
      if (RTCP_MUX.has(mode)) o.rtcpMux.push(mode as RtcpMuxMode);
      else warnings.push(`flag ${flag} unknown; ignored`);
      continue;
    }
    if (name.startsWith('ice-') ) {
      if (name === 'ice-remove') o.ice = 'remove';
      else if (name === 'ice-force' || name === 'ice-lite') o.ice = name === 'ice-force' ? 'force' : 'lite';
      else warnings.push(`flag ${flag} not supported yet (ICE is removed from SDP)`);
      continue;
    }
    // commands.ts starts or stops the call's recording once the offer or answer is done.
    if (/^record-call(=|$)/.test(name)) continue;
    const set = BOOLEAN_FLAGS[name];
    if (set !== undefined) set(o);
    else if (name.startsWith('sdes-')) applySdes(o, name.slice('sdes-'.length), warnings);
    else if (name.startsWith('dtls-') && dtlsMode(name.slice('dtls-'.length)) !== undefined) o.dtls = dtlsMode(name.slice('dtls-'.length));
    else if (UNSUPPORTED_FLAGS.has(name) || name.startsWith('dtls-') || name.startsWith('record'))
      warnings.push(`flag ${flag} not supported yet; ignored`);
    else warnings.push(`flag ${flag} unknown; ignored`);
  }

  for (const r of f.list('replace')) applyReplace(o, normalizeKey(r), warnings);

  const codec = f.dict('codec');
  if (codec !== undefined) {
    const cf = new NgFields(codec);
    for (const key of cf.keys()) {
      if ((CODEC_OPS as readonly string[]).includes(key)) addCodecEntries(o.codec, key as CodecOp, cf.list(key));
      else warnings.push(`codec.${key} not supported yet; ignored`);
    }
  }

  const ptime = f.integer('ptime', 1, 1000);
  if (ptime !== undefined) o.ptime = ptime;
  const ptimeReverse = f.integer('ptime-reverse', 1, 1000) ?? f.integer('reverse-ptime', 1, 1000);
  if (ptimeReverse !== undefined) o.ptimeReverse = ptimeReverse;
  for (const p of [o.ptime, o.ptimeReverse]) {
    if (p !== undefined && p % 5 !== 0 && p !== 1) warnings.push(`ptime ${p} is unusual; G.711 repacketization uses whole ms`);
  }

  const echo = f.string('media-echo');
  if (echo !== undefined) {
    const mode = ECHO_MODES[echo.trim().toLowerCase()];
    if (mode === undefined) throw new TandemError('BAD_REQUEST', `key "media echo" has unknown value "${echo}"`);
    o.mediaEcho = mode;
  }

  const ice = f.string('ice');
  if (ice !== undefined) {
    const mode = ice.trim().toLowerCase();
    if (mode === 'remove' || mode === 'force' || mode === 'lite' || mode === 'default') o.ice = mode;
    else if (mode === 'force-relay' || mode === 'optional') warnings.push(`ICE=${ice} not supported; ICE-lite is used where the peer does ICE`);
    else warnings.push(`ICE=${ice} not supported yet (ICE attributes are removed)`);
  }

  for (const m of f.list('rtcp-mux')) {
    const mode = m.trim().toLowerCase();
    if (RTCP_MUX.has(mode)) o.rtcpMux.push(mode as RtcpMuxMode);
    else warnings.push(`rtcp-mux=${m} unknown; ignored`);
  }

  const rf = f.list('received-from');
  if (rf.length === 1 && isIP(rf[0]) !== 0) {
    // rtpengine also takes a bare address here.
    o.receivedFrom = { family: isIP(rf[0]) === 6 ? 'IP6' : 'IP4', address: rf[0] };
  } else if (rf.length > 0) {
    if (rf.length !== 2 || !/^IP[46]$/i.test(rf[0])) throw new TandemError('BAD_REQUEST', 'key "received-from" must be [IP4|IP6, address]');
    if (isIP(rf[1]) === 0) throw new TandemError('BAD_REQUEST', `key "received-from": "${rf[1]}" is not an IP address`);
    o.receivedFrom = { family: rf[0].toUpperCase() as 'IP4' | 'IP6', address: rf[1] };
  }

  const ma = f.string('media-address');
  if (ma !== undefined) {
    if (isIP(ma) === 0) throw new TandemError('BAD_REQUEST', `key "media address": "${ma}" is not an IP address`);
    o.mediaAddress = ma;
  }
  const af = f.string('address-family');
  if (af !== undefined) {
    if (!/^IP[46]$/i.test(af)) throw new TandemError('BAD_REQUEST', 'key "address family" must be IP4 or IP6');
    o.addressFamily = af.toUpperCase() as 'IP4' | 'IP6';
  }
  const label = f.string('label');
  if (label !== undefined) o.label = label;
  const direction = f.list('direction');
  if (direction.length > 0) {
    // rtpengine's legacy internal/external address-family selectors are not interface names here.
    if (direction.length !== 2 || direction.some((d) => d === '')) throw new TandemError('BAD_REQUEST', 'key "direction" must be a list of two interface names');
    o.direction = [direction[0], direction[1]];
  }

  const tp = f.string('transport-protocol');
  if (tp !== undefined) {
    const want = TRANSPORT_PROTOCOLS.find((x) => x.toLowerCase() === tp.trim().toLowerCase());
    if (want === undefined) warnings.push(`transport-protocol ${tp} not supported yet; the offerer's profile is kept`);
    else o.transportProtocol = want;
  }
  for (const v of f.list('sdes')) applySdes(o, normalizeKey(v), warnings);
  for (const v of f.list('dtls')) {
    const mode = dtlsMode(normalizeKey(v));
    if (mode === undefined) throw new TandemError('BAD_REQUEST', `key "DTLS" has unknown value "${v}" (off, passive or active)`);
    o.dtls = mode;
  }

  for (const key of f.keys()) {
    if (HANDLED_KEYS.has(key)) continue;
    if (UNSUPPORTED_KEYS.has(key)) warnings.push(`${key} not supported yet; ignored`);
    else warnings.push(`unknown key "${key}" ignored`);
  }
  return { options: o, warnings };
}

/** rtpengine's `DTLS` values (also accepted as `DTLS-<value>` flags). */
function dtlsMode(v: string): DtlsMode | undefined {
  if (v === 'off' || v === 'no' || v === 'disable' || v === 'disabled') return 'off';
  if (v === 'passive' || v === 'active') return v;
  return undefined;
}

/** `SDES` values (or `SDES-<value>` flags): off, no-<suite>, only-<suite>. */
function applySdes(o: MediaOptions, what: string, warnings: string[]): void {
  const suite = (s: string): string => s.toUpperCase().replace(/-/g, '_');
  if (what === 'off' || what === 'no') o.sdes.off = true;
  else if (what.startsWith('no-')) o.sdes.no.push(suite(what.slice(3)));
  else if (what.startsWith('only-')) o.sdes.only.push(suite(what.slice(5)));
  else warnings.push(`SDES ${what} not supported yet; ignored`);
}

function applyReplace(o: MediaOptions, what: string, warnings: string[]): void {
  if (what === 'origin') o.replaceOrigin = true;
  else if (what === 'session-connection') o.replaceSessionConnection = true;
  else warnings.push(`replace ${what} not supported yet; ignored`);
}
