import { afterAll, beforeAll } from 'vitest';
import { pino } from 'pino';
import { startTandem, type RunningTandem } from '../../src/main.js';
import { defaultConfig, type TandemConfig } from '../../src/config/config.js';
import { RawNg } from './ng.js';

/**
 * The media socket layer from TANDEM_IO (batch|dgram), so one suite runs on both (.ci/run reruns the
 * media suites with TANDEM_IO=dgram); unset = Tandem's default (batch when the addon is built).
 */
export function ioFromEnv(): Pick<TandemConfig, 'io'> {
  const io = process.env.TANDEM_IO;
  if (io === undefined || io === '') return {};
  if (io !== 'batch' && io !== 'dgram') throw new Error(`TANDEM_IO=${io}: batch or dgram`);
  return { io };
}

/** An in-process Tandem on loopback (ng on a free port, silent logs) and a raw ng client for it. */
export async function startTestTandem(over: Partial<TandemConfig> = {}): Promise<{ t: RunningTandem; ng: RawNg; close(): Promise<void> }> {
  // Below the kernel's ephemeral range (32768+), where port-0 test sockets land, and a random
  // slice so runs beside a bench or another test do not fight over the same ports.
  const base = 10000 + Math.floor(Math.random() * 45) * 400;
  const t = await startTandem(
    { ...defaultConfig(), listenNg: { address: '127.0.0.1', port: 0 }, listenSip: [], portMin: base, portMax: base + 399, numThreads: 2, logLevel: 'silent', ...ioFromEnv(), ...over },
    pino({ level: 'silent' }),
  );
  const ng = await new RawNg(t.ngAddress.port).open();
  return {
    t,
    ng,
    async close() {
      ng.close();
      await t.close();
    },
  };
}

export type TestTandem = Awaited<ReturnType<typeof startTestTandem>>;

/**
 * One Tandem for a whole test file: started before its first test, closed after its last. Read
 * `.ng` and `.env` inside tests (they throw before the start).
 */
export function tandemPerFile(over: Partial<TandemConfig> = {}): { readonly env: TestTandem; readonly ng: RawNg } {
  let env: TestTandem | undefined;
  beforeAll(async () => {
    env = await startTestTandem(over);
  });
  afterAll(async () => {
    await env?.close();
  });
  const started = (): TestTandem => {
    if (env === undefined) throw new Error('the test Tandem is not started yet');
    return env;
  };
  return {
    get env() {
      return started();
    },
    get ng() {
      return started().ng;
    },
  };
}
