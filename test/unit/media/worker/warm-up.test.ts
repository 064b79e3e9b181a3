import { describe, it, expect, vi, afterEach } from 'vitest';
import { pino } from 'pino';
import type { Logger } from '../../../../src/common/log.js';

/**
 * The worker's warm-up: each step timed and its set-ups listed; a step that fails is a warning and
 * the others still run (a worker without werift still relays and transcodes G.711), never a throw.
 */
const dtlsFails = vi.hoisted(() => ({ on: false }));
vi.mock('../../../../src/media/rtp/dtls.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../../src/media/rtp/dtls.js')>();
  return {
    ...real,
    preloadDtls: (): void => {
      if (dtlsFails.on) throw new Error('cannot load werift DTLS: test');
      real.preloadDtls();
    },
  };
});
const { warmUpWorker } = await import('../../../../src/media/worker/warm-up.js');

function capture(): { log: Logger; warnings: string[] } {
  const warnings: string[] = [];
  const log: Logger = pino({ level: 'warn' }, { write: (l: string) => void warnings.push(String((JSON.parse(l) as { msg: unknown }).msg)) });
  return { log, warnings };
}

afterEach(() => {
  dtlsFails.on = false;
  delete process.env.TANDEM_WARMUP;
});

describe('warmUpWorker', () => {
  it('times every step and lists the set-ups it did', async () => {
    const { log, warnings } = capture();
    const r = await warmUpWorker(log);
    expect(r.skipped).toBe(false);
    for (const ms of [r.codecsMs, r.srtpMs, r.dtlsMs]) expect(ms).toBeGreaterThanOrEqual(0);
    expect(r.totalMs).toBeGreaterThanOrEqual(r.codecsMs);
    expect(r.setUps).toEqual(expect.arrayContaining(['werift', 'opus', 'wasm:g711', 'wasm:srtp']));
    expect(warnings).toEqual([]);
  });

  it('a DTLS step that throws is a warning and -1; the codecs and SRTP are still warmed', async () => {
    dtlsFails.on = true;
    const { log, warnings } = capture();
    const r = await warmUpWorker(log);
    expect(r.dtlsMs).toBe(-1);
    expect(r.codecsMs).toBeGreaterThanOrEqual(0);
    expect(r.srtpMs).toBeGreaterThanOrEqual(0);
    expect(warnings).toEqual(['DTLS warm-up failed; DTLS-SRTP calls may fail or start slowly']);
  });

  it('TANDEM_WARMUP=off skips it and says so', async () => {
    process.env.TANDEM_WARMUP = 'off';
    const r = await warmUpWorker(capture().log);
    expect(r).toMatchObject({ skipped: true, totalMs: 0 });
  });
});
