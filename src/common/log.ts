import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export const LOG_LEVELS: readonly LevelWithSilent[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function isLogLevel(v: string): v is LevelWithSilent {
  return (LOG_LEVELS as readonly string[]).includes(v);
}

/**
 * One root logger per thread. Workers use a synchronous destination rather than
 * pino.transport(), which would start yet another thread (shared/docs/dependencies.md).
 * `destination` replaces stderr (tests read the lines back).
 *
 * Errors go under `err` as the Error itself: the serializer then writes its type, message, stack
 * and own fields such as a TandemError's `code` and `context`, where a string would keep the
 * message alone. errWithCause rather than pino's default: a wrapped error (`cause`) stays an
 * object with its own code, instead of its message and stack being appended to the wrapper's.
 */
export function createLogger(opts: { level?: string; name?: string; destination?: DestinationStream } = {}): Logger {
  const level = opts.level ?? process.env.TANDEM_LOG_LEVEL ?? 'info';
  return pino(
    {
      level: isLogLevel(level) ? level : 'info',
      name: opts.name ?? 'tandem',
      base: { pid: process.pid },
      serializers: { err: pino.stdSerializers.errWithCause },
    },
    opts.destination ?? pino.destination({ dest: 2, sync: true }),
  );
}

/** Every call-related line carries the call-id: hand this child to whatever works on the call. */
export function callLogger(parent: Logger, callId: string): Logger {
  return parent.child({ callId });
}
