import type { Logger } from '../../common/log.js';
import type { WarmUpReport } from '../pool/protocol.js';
import { setUpsDone } from '../codecs/set-ups.js';
import { warmUpCodecs } from './opus-transcode.js';
import { preloadDtls, warmUpDtls } from '../rtp/dtls.js';
import { warmUpSrtp } from '../rtp/srtp.js';

const round = (ms: number): number => Math.round(ms * 10) / 10;

/**
 * The worker's one-time set-up, done before it says it is ready so no call pays for it: werift
 * loaded, the codecs' and SRTP's wasm compiled and run, one in-memory DTLS handshake. The DTLS
 * certificate's key pair is generated off the thread, so its handshake is started first and the
 * synchronous compiles run while the key is made. A step that fails is logged and the worker takes
 * calls anyway (G.711 relaying needs none of them); those calls then pay for it, or fail, per call.
 *
 * `TANDEM_WARMUP=off` in the environment skips it all: bench/first-call.ts measures what the first
 * call costs without it. Not an operator's option.
 */
export async function warmUpWorker(log: Logger): Promise<WarmUpReport> {
  const t0 = performance.now();
  if (process.env.TANDEM_WARMUP === 'off') return { skipped: true, totalMs: 0, codecsMs: 0, srtpMs: 0, dtlsMs: 0, setUps: [] };
  let dtls: Promise<number>;
  try {
    preloadDtls();
    dtls = warmUpDtls();
  } catch (err) {
    dtls = Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
  // Caught now, awaited after the compiles: a rejection must not go unhandled meanwhile. The time
  // is from werift's load to the handshake's end (the compiles below run meanwhile).
  const dtlsSettled = dtls.then(
    () => performance.now() - t0,
    (err: unknown) => {
      log.warn({ err }, 'DTLS warm-up failed; DTLS-SRTP calls may fail or start slowly');
      return -1;
    },
  );
  let codecsMs = -1;
  try {
    codecsMs = warmUpCodecs();
  } catch (err) {
    log.warn({ err }, 'Opus codec warm-up failed; Opus transcoding will fail per call');
  }
  let srtpMs = -1;
  try {
    srtpMs = warmUpSrtp();
  } catch (err) {
    log.warn({ err }, 'SRTP warm-up failed; SDES and DTLS-SRTP calls will fail');
  }
  const dtlsMs = await dtlsSettled;
  const report = { skipped: false, totalMs: round(performance.now() - t0), codecsMs: round(codecsMs), srtpMs: round(srtpMs), dtlsMs: round(dtlsMs), setUps: [...setUpsDone()] };
  log.debug(report, 'worker warmed up');
  return report;
}
