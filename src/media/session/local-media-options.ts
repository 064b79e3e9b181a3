import type { Logger } from '../../common/log.js';
import type { CallStats } from '../api.js';
import type { WorkerPoolOptions } from '../pool/pool.js';
import type { MediaInterfaceSpec } from './interfaces.js';
import type { CertificateStore, MediaPersistence } from './snapshot.js';
import type { RecordingSettings } from './recording.js';

/** What LocalMedia is started with (main.ts builds it from the configuration). */
export interface LocalMediaOptions {
  /** Address media sockets bind to, and the SDP names unless `advertise` is set. */
  interface: string;
  /** Address the SDP names instead (Tandem behind a 1:1 NAT); packets still flow on `interface`. */
  advertise?: string;
  /** Named interfaces (ng `direction` picks per side); when given, they replace `interface`/`advertise`. */
  interfaces?: readonly MediaInterfaceSpec[];
  portMin: number;
  portMax: number;
  workers: number;
  /** 0 = no limit. */
  maxSessions: number;
  /** calls transcoding at once (0 = no limit; admission.ts). */
  maxTranscodes?: number;
  /** Every call's last statistics when it ends, however it ends (delete, media timeout, worker failure, shutdown). */
  onCallClosed?: (stats: CallStats, reason: string) => void;
  /** m= lines per call (default 16): one offer must not take every port. */
  maxMediaPerCall?: number;
  mediaTimeoutMs: number;
  /** The workers' socket backend (`--io`; main passes batch unless told dgram). Default dgram. */
  io?: 'batch' | 'dgram';
  /** batch was asked for explicitly: a worker that cannot load the addon fails the start instead of a warning. */
  ioRequired?: boolean;
  logLevel: string;
  log: Logger;
  /** `--redis`: sessions written on every change, removed when they end, and the DTLS certificate, for a takeover. */
  persist?: MediaPersistence;
  certificates?: CertificateStore;
  /** rtpengine's `--dtmf-no-suppress`: audio during DTMF events is forwarded when transcoding. */
  dtmfNoSuppress?: boolean;
  /** Where and how calls are recorded (ng `start recording`); undefined = recording is off. */
  recording?: RecordingSettings;
  /** Respawn backoff and watchdog timings (tests shorten them). */
  poolTuning?: Partial<Pick<WorkerPoolOptions, 'respawnBaseMs' | 'respawnMaxMs' | 'respawnStableMs' | 'watchdogIntervalMs' | 'watchdogTimeoutMs' | 'testOps' | 'rtcpIntervalMs'>>;
}
