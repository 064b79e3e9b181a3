import { TandemError } from '../common/errors.js';
import { ngListenAddress } from './ng-tcp-options.js';
import { wholeNumber } from './values.js';

/** Operations (src/ops/): the admin HTTP listener, draining, the transcoding limit, call records. */
export interface OpsConfig {
  /** admin HTTP listener (/metrics, /healthz, /readyz, the JSON API of `tandem ctl`); undefined = off. */
  listenHttp?: { address: string; port: number };
  /** calls that transcode at once at most (0 = no limit); an offer beyond it gets rtpengine's load-limit reply. */
  maxTranscodes: number;
  /** seconds a drain (SIGTERM, `tandem ctl drain`) waits for live calls before hanging up the rest. */
  drainTimeout: number;
  /** seconds shutdown waits for the BYEs (and CANCELs) it sent to be answered before the process exits. */
  shutdownGrace: number;
  /** file that gets one JSON line per ended B2BUA call. */
  cdr?: string;
  /** URL each call record is POSTed to (application/json). */
  cdrUrl?: string;
}

type OpsKey = keyof OpsConfig;

export const OPS_OPTIONS: readonly { key: OpsKey; name: string; arg: string; help: string }[] = [
  { key: 'listenHttp', name: 'listen-http', arg: '[IP:]PORT|off', help: 'admin HTTP listener: /metrics (Prometheus), /healthz, /readyz and the JSON API of tandem ctl; it has no authentication, keep it on loopback or a management network (default 127.0.0.1:9900)' },
  { key: 'maxTranscodes', name: 'max-transcodes', arg: 'INT', help: 'calls that may transcode at once; an offer that would go beyond gets the "load limit" reply (SIP: 503) (default 0 = no limit)' },
  { key: 'drainTimeout', name: 'drain-timeout', arg: 'SECONDS', help: 'on SIGTERM or tandem ctl drain, new calls are refused and live ones may go on this long before they are hung up; then Tandem exits (default 3600)' },
  { key: 'shutdownGrace', name: 'shutdown-grace', arg: 'SECONDS', help: 'at shutdown (after a drain, or SIGINT), how long Tandem waits for the BYEs and CANCELs it sent to be answered (retransmitted over UDP meanwhile), and for the 487s of the INVITEs it CANCELled (to ACK them), before it exits; those still unanswered are logged (default 5)' },
  { key: 'cdr', name: 'cdr', arg: 'FILE', help: 'append one JSON line per ended B2BUA call (ids, parties, route, times, codecs, packets, loss, jitter, MOS, reason) and per ended ng-only media session (tags, sides, counts) (default: none)' },
  { key: 'cdrUrl', name: 'cdr-url', arg: 'URL', help: 'POST each call record as JSON to this http(s) URL; at most 1000 wait, failures are counted, not retried (default: none)' },
];

/**
 * The admin listener of the `tandem` command (parseArgs applies it). defaultConfig() leaves it off:
 * whoever calls startTandem() in-process (tests, side by side) picks a port or none.
 */
export const DEFAULT_LISTEN_HTTP: Readonly<{ address: string; port: number }> = { address: '127.0.0.1', port: 9900 };

/**
 * --shutdown-grace of the `tandem` command (parseArgs applies it): a few seconds, as over UDP a
 * dropped BYE is retransmitted at T1, 3*T1, 7*T1 (500 ms, 1.5 s, 3.5 s), so two or three tries fit.
 * defaultConfig() has 0, like the admin listener it leaves off: whoever embeds startTandem() (tests,
 * side by side) and calls close() chooses whether to wait.
 */
export const DEFAULT_SHUTDOWN_GRACE_S = 5;

export function opsDefaults(): OpsConfig {
  return { maxTranscodes: 0, drainTimeout: 3600, shutdownGrace: 0 };
}

export function isOpsKey(key: string): key is OpsKey {
  return OPS_OPTIONS.some((o) => o.key === key);
}

export function applyOpsOption(cfg: OpsConfig, key: OpsKey, name: string, v: string, where: string): void {
  switch (key) {
    case 'listenHttp': {
      if (/^(off|none)$/i.test(v)) {
        delete cfg.listenHttp;
        return;
      }
      // rtpengine's listen-http is its HTTP listener (with /metrics) too: same spelling, so its config file's `localhost:2225` works.
      cfg.listenHttp = ngListenAddress(where, name, v);
      return;
    }
    case 'maxTranscodes':
      cfg.maxTranscodes = wholeNumber(where, name, v, 0, 10_000_000);
      return;
    case 'drainTimeout':
      cfg.drainTimeout = wholeNumber(where, name, v, 0, 7 * 86_400);
      return;
    case 'shutdownGrace':
      // Beyond Timer F (64*T1, 32 s by default) nothing is left to wait for; an hour bounds a typo.
      cfg.shutdownGrace = wholeNumber(where, name, v, 0, 3600);
      return;
    case 'cdr':
      if (v === '') throw new TandemError('CONFIG', `${where}${name}: needs a file name`);
      cfg.cdr = v;
      return;
    case 'cdrUrl': {
      let url: URL | undefined;
      try {
        url = new URL(v);
      } catch {
        url = undefined;
      }
      if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '') throw new TandemError('CONFIG', `${where}${name}: "${v}" must be an http:// or https:// URL without credentials`);
      cfg.cdrUrl = url.toString();
    }
  }
}
