import { TandemError } from '../common/errors.js';
import { isLogLevel } from '../common/log.js';

/**
 * What a command line or config file written for rtpengine needs from Tandem beyond the option
 * names the two share: rtpengine's numeric log levels, its spellings of a few values, and the
 * names of its options Tandem does not have (config-file.ts logs those as ignored instead of
 * refusing the file). The names are those of rtpengine's manual (docs/rtpengine.md) and Debian's
 * rtpengine.conf.
 */
export const RTPENGINE_ONLY_OPTIONS: ReadonlySet<string> = new Set(
  `active-switchover amr-dtx audio-buffer-delay audio-buffer-length audio-player b2b-url cache-media-reload cn-payload
  codec-num-threads codecs control-pmtu control-tos db-cache-expire db-media-cache db-media-expire db-media-reload
  debug-srtp delete-delay dtls-cert-cipher dtls-ciphers dtls-mtu dtls-passive dtls-rsa-key-size dtls-signature
  dtmf-log-dest dtmf-log-ng-tcp dtmf-no-log-injects dtx-buffer dtx-cn-params dtx-delay dtx-lag
  dtx-shift endpoint-learning evs-dtx evs-lib-path expiry-timer final-timeout foreground graphite graphite-interval
  graphite-prefix graphite-timeout homer homer-disable-rtcp-stats homer-enable-ng homer-id homer-ng-capture-proto
  homer-protocol http-buf-size http-idle-timeout http-threads https-cert https-key idle-priority idle-scheduling
  io-uring io-uring-buffers iptables-chain janus-secret jb-adaptive jb-adaptive-max jb-adaptive-min jb-clock-drift
  jitter-buffer kernel-num-threads kernel-player kernel-player-media kernel-slots listen-cli listen-http listen-https
  listen-tcp listen-udp log-facility log-facility-cdr log-facility-dtmf log-facility-rtcp log-facilty log-facilty-cdr
  log-facilty-dtmf log-facilty-rtcp log-format log-mark-prefix log-mark-suffix log-name log-srtp-keys log-stderr
  max-bandwidth max-cpu max-dtx max-load max-log-line-length max-recv-iters measure-rtp media-files-expire
  media-files-reload media-num-threads moh-attr-name moh-max-duration moh-max-repeats moh-prevent-double-hold mos
  mqtt-cafile mqtt-capath mqtt-certfile mqtt-host mqtt-id mqtt-keepalive mqtt-keyfile mqtt-pass mqtt-port
  mqtt-publish-interval mqtt-publish-qos mqtt-publish-scope mqtt-publish-topic mqtt-tls-alpn mqtt-user mysql-host
  mysql-pass mysql-port mysql-query mysql-user nftables-append nftables-base-chain nftables-chain nftables-family
  nftables-start nftables-status nftables-stop no-fallback no-log-timestamps no-redis-required num-media-threads
  offer-timeout pidfile player-cache poller-per-thread poller-size preload-db-cache preload-db-media
  preload-media-files priority record-both record-egress recording-format redis
  redis-allowed-errors redis-cmd-timeout redis-connect-timeout redis-disable-time redis-expires redis-format
  redis-num-threads redis-resolve-on-reconnect redis-subscribe redis-tcp-keepalive-intvl redis-tcp-keepalive-probes
  redis-tcp-keepalive-time redis-write reject-invalid-sdp rtcp-interval save-interface-ports scheduling
  silence-detect silent-timeout sip-source socket-cpu-affinity software-id split-logs subscribe-keyspace table
  templates thread-stack timer-accuracy tos transcode-config xmlrpc-format xtables`.split(/\s+/),
);

/** rtpengine's option, or one of its per-subsystem log levels (`log-level-core`, `log-level-ng`…). */
export function isRtpengineOnlyOption(name: string): boolean {
  return RTPENGINE_ONLY_OPTIONS.has(name) || /^log-level-[a-z-]+$/.test(name);
}

/** syslog severities (rtpengine's `--log-level`, 0–7) as pino levels. */
const SYSLOG_LEVELS = ['fatal', 'fatal', 'fatal', 'error', 'warn', 'info', 'info', 'debug'] as const;

/** `--log-level`: a pino level name, or rtpengine's syslog number (6 = info, 7 = debug). */
export function logLevelOption(where: string, name: string, v: string): string {
  if (/^[0-7]$/.test(v)) return SYSLOG_LEVELS[Number(v)];
  if (!isLogLevel(v)) throw new TandemError('CONFIG', `${where}${name}: "${v}" is not one of fatal, error, warn, info, debug, trace, silent, or rtpengine's syslog level 0–7`);
  return v;
}

/**
 * A value as rtpengine's config file spells it, for the option Tandem has under the same name.
 * `interface = any` (rtpengine: every local address) has no Tandem meaning: Tandem binds what it is
 * told, so that is an error that says what to write instead.
 */
export function rtpengineValue(where: string, name: string, v: string): string {
  if (name === 'max-sessions' && v.trim() === '-1') return '0';
  // rtpengine's `proc` spools packets for its rtpengine-recording daemon; Tandem writes the pcap itself.
  if (name === 'recording-method' && v.trim().toLowerCase() === 'proc') return 'pcap';
  if (name === 'interface' && v.split(/[;,]/).some((i) => /^(?:[^/]+\/)?any$/i.test(i.trim())))
    throw new TandemError('CONFIG', `${where}${name}: "any" (rtpengine: every local address) is not supported: name the address(es) to bind, e.g. interface = 192.0.2.10 (a --interface on the command line wins over the file)`);
  return v;
}
