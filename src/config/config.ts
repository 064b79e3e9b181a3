import { availableParallelism } from 'node:os';
import { isIP } from 'node:net';
import { TandemError } from '../common/errors.js';
import { cidrError } from '../common/cidr.js';
import { AUTH_OPTIONS, applyAuthOption, authDefaults, isAuthKey, type AuthConfig } from './auth-options.js';
import { REGISTRAR_OPTIONS, applyRegistrarOption, isRegistrarKey, registrarDefaults, validateRegistrar, type RegistrarConfig } from './registrar-options.js';
import { EDGE_OPTIONS, applyEdgeOption, edgeDefaults, validateEdge, type EdgeConfig } from './edge-options.js';
import { DNS_OPTIONS, applyDnsOption, dnsDefaults, isDnsKey, type DnsConfig } from './dns-options.js';
import { OPS_OPTIONS, applyOpsOption, isOpsKey, opsDefaults, type OpsConfig } from './ops-options.js';
import { applyInterface, type InterfaceConfig } from './interface-options.js';
import { MEDIA_OPTIONS, applyMediaOption, isMediaKey, mediaDefaults, type MediaConfig } from './media-options.js';
import { STATE_OPTIONS, applyStateOption, isStateKey, type StateConfig } from './state-options.js';
import { NG_TCP_OPTIONS, applyNgTcpOption, isNgTcpKey, ngListenAddress, ngTcpDefaults, type NgTcpConfig } from './ng-tcp-options.js';
import { IO_OPTIONS, applyIoOption, isIoKey, type IoConfig } from './io-options.js';
import { DTMF_OPTIONS, applyDtmfOption, dtmfDefaults, isDtmfKey, type DtmfConfig } from './dtmf-options.js';
import { RECORDING_OPTIONS, applyRecordingOption, isRecordingKey, recordingDefaults, type RecordingConfig } from './recording-options.js';
import { parseListenParams, type ListenParams } from './listen-params.js';
import { wholeNumber } from './values.js';
import { logLevelOption } from './rtpengine-options.js';

/** Tandem's configuration. Option names follow rtpengine's so users can migrate. */
export interface TandemConfig extends EdgeConfig, RegistrarConfig, AuthConfig, DnsConfig, InterfaceConfig, OpsConfig, NgTcpConfig, IoConfig, MediaConfig, StateConfig, RecordingConfig, DtmfConfig {
  interface: string;
  listenNg: { address: string; port: number };
  /** Sources (IPs/CIDRs) the ng listener obeys; undefined = every source that can reach it. */
  ngAllow?: string[];
  portMin: number;
  portMax: number;
  numThreads: number;
  logLevel: string;
  maxSessions: number;
  /** m= lines one call may have (each costs a bridge and 4 ports). */
  maxMediaPerCall: number;
  /** Seconds without RTP before a call is ended. */
  timeout: number;
  /** SIP listeners of the B2BUA; empty = no SIP (media plane and ng only). */
  listenSip: SipListen[];
  /** Every call goes to this URI when no routes file is given (`--route=sip:HOST:PORT`). */
  route?: string;
  routesFile?: string;
  /** Leg B policy for --route: allowed codecs in order, ptime, may transcode. */
  bCodecs?: string[];
  bPtime?: number;
  bTranscode: boolean;
  /** Leg B's media security with --route: DTLS-SRTP (WebRTC), SDES-SRTP or plain RTP. */
  bSrtp?: 'dtls' | 'sdes' | 'none';
  /** ICE toward leg B with --route: Tandem as ICE-lite agent, or none. */
  bIce?: 'lite' | 'remove';
  /** RFC 3261 §17 timer bases, ms. */
  sipT1: number;
  sipT2: number;
  sipT4: number;
  /** How long leg A's INVITE may go without a final response before Tandem answers 408 and ends the call (ms). */
  sipTimerC: number;
  tlsCert?: string;
  tlsKey?: string;
  /** PEM CA bundle outbound TLS certificates are verified against (default: the system CAs). */
  tlsCa?: string;
  /** Stream connections (TCP, TLS, WebSocket): caps and deadlines, ms. */
  sipMaxConnections: number;
  sipMaxConnectionsPerSource: number;
  sipIdleTimeout: number;
  sipMessageTimeout: number;
  tlsHandshakeTimeout: number;
  wsPingInterval: number;
  /** User-Agent substrings (case-insensitive) whose requests are silently dropped. */
  uaDeny: string[];
  /** Headers copied from leg A's INVITE to leg B's (everything else is rebuilt: topology hiding). */
  copyHeaders: string[];
  /** Sources allowed to set leg B's next hop with X-Outbound-Proxy (used with --route); trusted too. */
  trustedProxies: string[];
  /** Trusted sources: their identity headers (P-Asserted-Identity, Privacy…) cross to leg B. */
  trusted: string[];
  /** Server header of our responses and User-Agent of our requests; undefined = neither (the product is not named). */
  serverHeader?: string;
}

export type SipProtocolName = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

/** One SIP listener; its `;…` parameters (access lists, advertised host) are in listen-params.ts. */
export interface SipListen extends ListenParams {
  protocol: SipProtocolName;
  address: string;
  port: number;
}

export type { MediaPlaneConfig, MediaNodeSpec } from './media-options.js';
export { mediaPlaneName } from './media-options.js';

export interface OptionSpec {
  key: keyof TandemConfig;
  name: string;
  arg: string;
  help: string;
}

/** One table drives --help, the config file keys and validation. */
export const OPTIONS: readonly OptionSpec[] = [
  { key: 'interface', name: 'interface', arg: '[NAME/]IP[!ADV]', help: 'media interface: sockets bind IP, the SDP says ADV when given (1:1 NAT), e.g. 10.0.0.5!203.0.113.7; repeat for named ones, picked by ng direction or a routes-file leg\'s interface; the first is the default (default 127.0.0.1)' },
  { key: 'listenNg', name: 'listen-ng', arg: '[IP:]PORT', help: 'ng control protocol listener over UDP; a bare PORT binds 127.0.0.1 (default 127.0.0.1:22222)' },
  ...NG_TCP_OPTIONS,
  { key: 'ngAllow', name: 'ng-allow', arg: 'LIST', help: 'IPs/CIDRs whose ng commands are obeyed, e.g. 127.0.0.1,10.0.0.0/24; others are dropped unread (default: every source that reaches --listen-ng)' },
  { key: 'portMin', name: 'port-min', arg: 'INT', help: 'lowest media port (default 30000)' },
  { key: 'portMax', name: 'port-max', arg: 'INT', help: 'highest media port (default 40000)' },
  { key: 'numThreads', name: 'num-threads', arg: 'INT', help: 'media worker threads (default: number of cores)' },
  { key: 'logLevel', name: 'log-level', arg: 'LEVEL', help: 'fatal|error|warn|info|debug|trace, or rtpengine\'s syslog level 0–7 (default info)' },
  { key: 'maxSessions', name: 'max-sessions', arg: 'INT', help: 'concurrent calls before answering "load limit" (default 0 = no limit)' },
  { key: 'maxMediaPerCall', name: 'max-media-per-call', arg: 'INT', help: 'm= lines one call may have, 4 media ports each; an offer with more is refused (default 16)' },
  { key: 'timeout', name: 'timeout', arg: 'SECONDS', help: 'end a call after this long without media (default 60)' },
  { key: 'listenSip', name: 'listen-sip', arg: 'LIST', help: 'SIP listeners, e.g. udp:127.0.0.1:5060,tls:127.0.0.1:5061,ws:127.0.0.1:8080; IP:PORT = UDP+TCP; ;advertise=HOST[:PORT] = what Via/Contact say behind NAT; none = no SIP (default 127.0.0.1:5060)' },
  { key: 'route', name: 'route', arg: 'URI', help: 'send every call to this target, e.g. sip:127.0.0.1:5080;transport=tcp' },
  { key: 'routesFile', name: 'routes-file', arg: 'FILE', help: 'JSON routes: match → ordered targets with weights and codec policy (see README)' },
  { key: 'bCodecs', name: 'b-codecs', arg: 'LIST', help: 'with --route: codecs leg B gets, in order, e.g. PCMU or PCMA,PCMU' },
  { key: 'bPtime', name: 'b-ptime', arg: 'MS', help: 'with --route: packetization time leg B gets' },
  { key: 'bTranscode', name: 'b-transcode', arg: 'yes|no', help: 'with --route: may transcode to satisfy --b-codecs (default yes)' },
  { key: 'bSrtp', name: 'b-srtp', arg: 'dtls|sdes|none', help: 'with --route: leg B gets DTLS-SRTP as a browser expects (UDP/TLS/RTP/SAVPF, ICE, rtcp-mux), SDES-SRTP (RTP/SAVP) or plain RTP' },
  { key: 'bIce', name: 'b-ice', arg: 'lite|remove', help: 'with --route: ICE toward leg B, Tandem as ICE-lite agent or none (default: lite with --b-srtp=dtls, else as leg A)' },
  ...MEDIA_OPTIONS,
  ...STATE_OPTIONS,
  { key: 'sipT1', name: 'sip-t1', arg: 'MS', help: 'SIP timer T1, RTT estimate (default 500)' },
  { key: 'sipT2', name: 'sip-t2', arg: 'MS', help: 'SIP timer T2, longest non-INVITE retransmit interval (default 4000)' },
  { key: 'sipT4', name: 'sip-t4', arg: 'MS', help: 'SIP timer T4, how long a message stays in the network (default 5000)' },
  { key: 'sipTimerC', name: 'sip-timer-c', arg: 'MS', help: 'longest an incoming INVITE waits for a final response; then 408 and the call ends (default 180000, RFC 3261 Timer C)' },
  { key: 'tlsCert', name: 'tls-cert', arg: 'FILE', help: 'PEM certificate for SIP over TLS' },
  { key: 'tlsKey', name: 'tls-key', arg: 'FILE', help: 'PEM private key for SIP over TLS' },
  { key: 'tlsCa', name: 'tls-ca', arg: 'FILE', help: 'PEM CA certificates outbound TLS peers must chain to (default: the system CAs); a target may opt out with "tlsVerify": false in the routes file' },
  { key: 'sipMaxConnections', name: 'sip-max-connections', arg: 'INT', help: 'open TCP/TLS/WebSocket connections at most; further ones are closed at once (default 1024, and at most a quarter of the open-files limit)' },
  { key: 'sipMaxConnectionsPerSource', name: 'sip-max-connections-per-source', arg: 'INT', help: 'open connections from one IP address at most (default 32)' },
  { key: 'sipIdleTimeout', name: 'sip-idle-timeout', arg: 'MS', help: 'close a connection after this long without a message or keep-alive (default 600000)' },
  { key: 'sipMessageTimeout', name: 'sip-message-timeout', arg: 'MS', help: 'close a connection whose message is not complete this long after its first byte (default 10000)' },
  { key: 'tlsHandshakeTimeout', name: 'tls-handshake-timeout', arg: 'MS', help: 'close a connection whose TLS handshake (or WebSocket upgrade) is not done after this long; also the outbound connect deadline (default 5000)' },
  { key: 'wsPingInterval', name: 'ws-ping-interval', arg: 'MS', help: 'WebSocket ping period; a peer that has not answered the last ping is terminated (default 30000)' },
  { key: 'uaDeny', name: 'ua-deny', arg: 'LIST', help: 'drop requests whose User-Agent contains one of these (default friendly-scanner,sipvicious,sipcli,sip-scan); none = drop nothing' },
  { key: 'copyHeaders', name: 'copy-headers', arg: 'LIST', help: 'headers copied from leg A to leg B (default Subject,Priority,Alert-Info,P-Asserted-Identity,Privacy; identity headers only from --trusted sources)' },
  { key: 'trustedProxies', name: 'trusted-proxy', arg: 'LIST', help: 'IPs (or CIDRs) whose X-Outbound-Proxy header is honoured (they count as trusted too)' },
  { key: 'trusted', name: 'trusted', arg: 'LIST', help: 'IPs/CIDRs whose P-Asserted-Identity, P-Preferred-Identity, Remote-Party-ID and Privacy cross to leg B (default none: removed)' },
  ...REGISTRAR_OPTIONS,
  ...AUTH_OPTIONS,
  ...EDGE_OPTIONS,
  ...DNS_OPTIONS, ...OPS_OPTIONS, ...IO_OPTIONS, ...RECORDING_OPTIONS, ...DTMF_OPTIONS,
  { key: 'serverHeader', name: 'server-header', arg: 'TEXT|none', help: 'Server header of responses and User-Agent of requests Tandem makes (default none: the product is not named)' },
];

export function defaultConfig(): TandemConfig {
  return {
    interface: '127.0.0.1',
    listenNg: { address: '127.0.0.1', port: 22222 },
    portMin: 30000,
    portMax: 40000,
    numThreads: Math.max(1, availableParallelism()),
    logLevel: 'info',
    maxSessions: 0,
    maxMediaPerCall: 16,
    timeout: 60,
    listenSip: [
      { protocol: 'udp', address: '127.0.0.1', port: 5060 },
      { protocol: 'tcp', address: '127.0.0.1', port: 5060 },
    ],
    bTranscode: true,
    sipT1: 500,
    sipT2: 4000,
    sipT4: 5000,
    sipMaxConnections: 1024,
    sipMaxConnectionsPerSource: 32,
    sipIdleTimeout: 600_000,
    sipMessageTimeout: 10_000,
    tlsHandshakeTimeout: 5_000,
    wsPingInterval: 30_000,
    sipTimerC: 180_000,
    uaDeny: ['friendly-scanner', 'sipvicious', 'sipcli', 'sip-scan'],
    copyHeaders: ['Subject', 'Priority', 'Alert-Info', 'P-Asserted-Identity', 'Privacy'],
    trustedProxies: [],
    trusted: [],
    ...authDefaults(),
    ...registrarDefaults(),
    ...edgeDefaults(),
    ...dnsDefaults(), ...opsDefaults(), ...recordingDefaults(), ...dtmfDefaults(),
    ...ngTcpDefaults(),
    ...dnsDefaults(),
    ...mediaDefaults(),
  };
}

/** `IP:PORT` or `[IPv6]:PORT` → parts, or null. */
function hostPort(v: string): { address: string; port: string } | null {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(v);
  return m === null ? null : { address: m[1] ?? m[2], port: m[3] };
}

function list(raw: string): string[] {
  const items = raw.split(',').map((x) => x.trim()).filter((x) => x !== '');
  return items.length === 1 && items[0].toLowerCase() === 'none' ? [] : items;
}

function parseSipListen(name: string, raw: string, where: string): SipListen[] {
  const out: SipListen[] = [];
  for (const full of list(raw)) {
    const [item, ...params] = full.split(';');
    const acl = parseListenParams(params, full, name, where);
    const m = /^(udp|tcp|tls|wss|ws):(.*)$/i.exec(item);
    const hp = hostPort(m === null ? item : m[2]);
    if (hp === null || isIP(hp.address) === 0)
      throw new TandemError('CONFIG', `${where}${name}: "${item}" must be [udp|tcp|tls|ws|wss:]IP:PORT`);
    const port = wholeNumber(where, name, hp.port, 0, 65535);
    if (m === null) out.push({ protocol: 'udp', address: hp.address, port, ...acl }, { protocol: 'tcp', address: hp.address, port, ...acl });
    else out.push({ protocol: m[1].toLowerCase() as SipProtocolName, address: hp.address, port, ...acl });
  }
  return out;
}

/** IPs or CIDRs (`IP/LEN`, LEN within the family's bits; common/cidr.ts checks). */
function cidrs(name: string, raw: string, where: string): string[] {
  const items = list(raw);
  const bad = items.find((x) => cidrError(x) !== undefined);
  if (bad !== undefined) throw new TandemError('CONFIG', `${where}${name}: "${bad}" is not an IP address or CIDR`);
  return items;
}

/** Applies one option given as text (from argv or a config file). `where` prefixes errors. */
export function applyOption(cfg: TandemConfig, name: string, raw: string, where = '--'): void {
  const spec = OPTIONS.find((o) => o.name === name);
  if (spec === undefined) throw new TandemError('CONFIG', `${where}${name}: unknown option (see --help)`);
  const v = raw.trim();
  switch (spec.key) {
    case 'interface':
      applyInterface(cfg, name, v, where);
      break;
    case 'listenNg':
      cfg.listenNg = ngListenAddress(where, name, v);
      break;
    case 'ngAllow': {
      const entries = list(v);
      if (entries.length === 0) throw new TandemError('CONFIG', `${where}${name}: needs at least one IP or CIDR (leave it out to obey every source)`);
      const bad = entries.map(cidrError).find((e) => e !== undefined);
      if (bad !== undefined) throw new TandemError('CONFIG', `${where}${name}: ${bad}`);
      cfg.ngAllow = entries;
      break;
    }
    case 'portMin':
      cfg.portMin = wholeNumber(where, name, v, 1024, 65535);
      break;
    case 'portMax':
      cfg.portMax = wholeNumber(where, name, v, 1024, 65535);
      break;
    case 'numThreads':
      cfg.numThreads = wholeNumber(where, name, v, 1, 256);
      break;
    case 'logLevel':
      cfg.logLevel = logLevelOption(where, name, v);
      break;
    case 'maxSessions':
      cfg.maxSessions = wholeNumber(where, name, v, 0, 10_000_000);
      break;
    case 'maxMediaPerCall':
      cfg.maxMediaPerCall = wholeNumber(where, name, v, 1, 1000);
      break;
    case 'timeout':
      cfg.timeout = wholeNumber(where, name, v, 0, 86_400);
      break;
    case 'listenSip':
      cfg.listenSip = parseSipListen(name, v, where);
      break;
    case 'route':
      if (!/^sips?:/i.test(v)) throw new TandemError('CONFIG', `${where}${name}: "${raw}" must be a sip: or sips: URI`);
      cfg.route = v;
      break;
    case 'routesFile':
      if (v === '') throw new TandemError('CONFIG', `${where}${name}: needs a file name`);
      cfg.routesFile = v;
      break;
    case 'bCodecs': {
      const codecs = list(v);
      const bad = codecs.find((c) => !/^[A-Za-z0-9.+_-]+(\/\d+(\/\d+)?)?$/.test(c));
      if (codecs.length === 0 || bad !== undefined) throw new TandemError('CONFIG', `${where}${name}: "${bad ?? raw}" is not a codec name or payload type`);
      cfg.bCodecs = codecs;
      break;
    }
    case 'bPtime':
      cfg.bPtime = wholeNumber(where, name, v, 10, 200);
      break;
    case 'bTranscode':
      if (!/^(yes|no|true|false|1|0)$/i.test(v)) throw new TandemError('CONFIG', `${where}${name}: "${raw}" must be yes or no`);
      cfg.bTranscode = /^(yes|true|1)$/i.test(v);
      break;
    case 'bSrtp':
      if (v !== 'dtls' && v !== 'sdes' && v !== 'none') throw new TandemError('CONFIG', `${where}${name}: "${raw}" must be dtls, sdes or none`);
      cfg.bSrtp = v;
      break;
    case 'bIce':
      if (v !== 'lite' && v !== 'remove') throw new TandemError('CONFIG', `${where}${name}: "${raw}" must be lite or remove`);
      cfg.bIce = v;
      break;
    case 'sipT1':
      cfg.sipT1 = wholeNumber(where, name, v, 1, 60_000);
      break;
    case 'sipT2':
      cfg.sipT2 = wholeNumber(where, name, v, 1, 600_000);
      break;
    case 'sipT4':
      cfg.sipT4 = wholeNumber(where, name, v, 0, 600_000);
      break;
    case 'sipTimerC':
      cfg.sipTimerC = wholeNumber(where, name, v, 100, 86_400_000);
      break;
    case 'tlsCert':
      cfg.tlsCert = v;
      break;
    case 'tlsKey':
      cfg.tlsKey = v;
      break;
    case 'tlsCa':
      if (v === '') throw new TandemError('CONFIG', `${where}${name}: needs a file name`);
      cfg.tlsCa = v;
      break;
    case 'sipMaxConnections':
      cfg.sipMaxConnections = wholeNumber(where, name, v, 1, 1_000_000);
      break;
    case 'sipMaxConnectionsPerSource':
      cfg.sipMaxConnectionsPerSource = wholeNumber(where, name, v, 1, 1_000_000);
      break;
    case 'sipIdleTimeout':
      cfg.sipIdleTimeout = wholeNumber(where, name, v, 100, 86_400_000);
      break;
    case 'sipMessageTimeout':
      cfg.sipMessageTimeout = wholeNumber(where, name, v, 100, 600_000);
      break;
    case 'tlsHandshakeTimeout':
      cfg.tlsHandshakeTimeout = wholeNumber(where, name, v, 100, 600_000);
      break;
    case 'wsPingInterval':
      cfg.wsPingInterval = wholeNumber(where, name, v, 100, 3_600_000);
      break;
    case 'uaDeny':
      cfg.uaDeny = list(v);
      break;
    case 'copyHeaders': {
      const names = list(v);
      const bad = names.find((n) => !/^[A-Za-z0-9!%*_+`'~.-]+$/.test(n));
      if (bad !== undefined) throw new TandemError('CONFIG', `${where}${name}: "${bad}" is not a header name`);
      cfg.copyHeaders = names;
      break;
    }
    case 'trustedProxies':
      cfg.trustedProxies = cidrs(name, v, where);
      break;
    case 'trusted':
      cfg.trusted = cidrs(name, v, where);
      break;
    case 'serverHeader':
      if (v.toLowerCase() === 'none') delete cfg.serverHeader;
      // RFC 3261 §20.35 server-val: printable text on one line; bounded so it cannot bloat every response.
      else if (!/^[\x21-\x7e][\x20-\x7e]{0,127}$/.test(v)) throw new TandemError('CONFIG', `${where}${name}: "${raw}" must be 1–128 printable ASCII characters, or none`);
      else cfg.serverHeader = v;
      break;
    default:
      if (isRegistrarKey(spec.key)) applyRegistrarOption(cfg, spec.key, name, v, where);
      else if (isAuthKey(spec.key)) applyAuthOption(cfg, spec.key, name, v, where);
      else if (isDnsKey(spec.key)) applyDnsOption(cfg, spec.key, name, v, where);
      else if (isOpsKey(spec.key)) applyOpsOption(cfg, spec.key, name, v, where);
      else if (isNgTcpKey(spec.key)) applyNgTcpOption(cfg, spec.key, name, v, where);
      else if (isIoKey(spec.key)) applyIoOption(cfg, spec.key, name, v, where);
      else if (isMediaKey(spec.key)) applyMediaOption(cfg, spec.key, name, v, where);
      else if (isStateKey(spec.key)) applyStateOption(cfg, spec.key, name, v, where);
      else if (isRecordingKey(spec.key)) applyRecordingOption(cfg, spec.key, name, v, where);
      else if (isDtmfKey(spec.key)) applyDtmfOption(cfg, spec.key, name, v, where);
      else applyEdgeOption(cfg, spec.key as keyof EdgeConfig, name, v, where);
  }
}

/** Checks that need several options at once. */
export function validateConfig(cfg: TandemConfig): TandemConfig {
  if (cfg.portMin > cfg.portMax) throw new TandemError('CONFIG', `--port-min (${cfg.portMin}) is above --port-max (${cfg.portMax})`);
  if (cfg.portMax - cfg.portMin < 3) throw new TandemError('CONFIG', `--port-min/--port-max: the range must hold at least two port pairs`);
  if (cfg.sipT2 < cfg.sipT1) throw new TandemError('CONFIG', `--sip-t2 (${cfg.sipT2}) must not be below --sip-t1 (${cfg.sipT1})`);
  if (cfg.route !== undefined && cfg.routesFile !== undefined) throw new TandemError('CONFIG', '--route and --routes-file: give one or the other');
  if ((cfg.bCodecs !== undefined || cfg.bPtime !== undefined || cfg.bSrtp !== undefined || cfg.bIce !== undefined) && cfg.route === undefined)
    throw new TandemError('CONFIG', '--b-codecs/--b-ptime/--b-srtp/--b-ice: only with --route (a routes file carries its own policy)');
  const hasTls = cfg.listenSip.some((l) => l.protocol === 'tls' || l.protocol === 'wss');
  if (hasTls && (cfg.tlsCert === undefined || cfg.tlsKey === undefined))
    throw new TandemError('CONFIG', '--listen-sip: a tls or wss listener needs --tls-cert and --tls-key');
  validateRegistrar(cfg);
  validateEdge(cfg);
  return cfg;
}
