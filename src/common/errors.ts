/**
 * Few named errors with stable codes. Each boundary maps them: the ng server to
 * `{result: "error", "error-reason"}`, the CLI to an exit code, the media plane to a counter.
 */
export type ErrorCode =
  | 'BAD_REQUEST' // malformed ng message or missing key
  | 'BAD_SDP' // SDP that cannot be parsed or used
  | 'UNKNOWN_CALL' // call-id / tag not found
  | 'NO_PORTS' // port range exhausted
  | 'LOAD_LIMIT' // session limit reached
  | 'CODEC' // no usable codec / unsupported transcoding
  | 'WORKER' // a media worker failed or timed out
  | 'REMOTE' // a remote media server (over ng) refused, failed or did not answer
  | 'CONFIG'; // invalid configuration or command-line option

export class TandemError extends Error {
  readonly code: ErrorCode;
  readonly context: Readonly<Record<string, string>>;

  constructor(code: ErrorCode, message: string, context: Record<string, string> = {}) {
    const ctx = Object.entries(context).map(([k, v]) => `${k}:${v}`).join(', ');
    super(ctx ? `${message} [${ctx}]` : message);
    this.name = 'TandemError';
    this.code = code;
    this.context = context;
  }
}

export function isTandemError(e: unknown): e is TandemError {
  return e instanceof TandemError;
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
