import { createLogger, type Logger } from './common/log.js';
import type { TandemConfig } from './config/config.js';
import { LocalMedia } from './media/session/local-media.js';
import { NgServer } from './control/ng-server.js';

export interface RunningTandem {
  media: LocalMedia;
  ng: NgServer;
  ngAddress: { address: string; port: number };
  log: Logger;
  close(): Promise<void>;
}

/** Composition root: config → media plane → ng listener. */
export async function startTandem(config: TandemConfig, log: Logger = createLogger({ level: config.logLevel })): Promise<RunningTandem> {
  const media = new LocalMedia({
    interface: config.interface,
    portMin: config.portMin,
    portMax: config.portMax,
    workers: config.numThreads,
    maxSessions: config.maxSessions,
    mediaTimeoutMs: config.timeout * 1000,
    logLevel: config.logLevel,
    log,
  });
  await media.ready();
  const ng = new NgServer({ address: config.listenNg.address, port: config.listenNg.port, context: { media }, log });
  let ngAddress: { address: string; port: number };
  try {
    ngAddress = await ng.listen();
  } catch (err) {
    await media.close();
    throw err;
  }
  log.info({ interface: config.interface, ports: `${config.portMin}-${config.portMax}`, workers: config.numThreads }, 'tandem ready');
  return {
    media,
    ng,
    ngAddress,
    log,
    async close() {
      await ng.close();
      await media.close();
    },
  };
}
