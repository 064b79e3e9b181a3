/**
 * The one catalogue of error codes. Every error class under src/ is a TandemError (or a subclass),
 * so `err.code` is always one of these and survives into logs (pino's `err` serializer keeps it)
 * and onto the wire. Each boundary maps codes its own way: control/ to the ng reply's
 * `error-code`, b2bua/ to a SIP status, the CLI to an exit code, the media plane to a counter.
 * Names are stable: ng peers and log searches may depend on them, so add, do not rename.
 */
export const ERROR_CODES = [
  'BAD_REQUEST', // malformed ng message or missing key; a SIP request that cannot be used
  'BAD_SDP', // SDP that cannot be parsed or used
  'UNKNOWN_CALL', // call-id / tag not found
  'NO_PORTS', // port range exhausted, or the ports picked cannot be bound
  'LOAD_LIMIT', // session limit reached
  'CODEC', // no usable codec / unsupported transcoding
  'WORKER', // a media worker failed or timed out
  'REMOTE', // a remote media server (over ng) refused, failed or did not answer
  'CONFIG', // invalid configuration or command-line option
  'TOO_LARGE', // an ng request or reply over its size limit
  'BENCODE', // bytes that are not bencode, or a value bencode cannot carry
  'RTP_FORMAT', // an RTP/RTCP packet the full parsers reject, or one that cannot be serialized
  'NG_TIMEOUT', // ng client: no reply after the last try
  'NG_CLOSED', // ng client: closed, or its socket failed, while the request was pending
  'NG_SEND', // ng client: the request could not be encoded, sent or bound
  'NG_BAD_REPLY', // ng client: a reply with our cookie whose body is not a bencoded dictionary
  'DNS', // a SIP target's host name did not resolve to a usable address (RFC 3263)
  'CONNECTION_LOST', // a SIP TCP/TLS connection closed or failed before the final response to a request sent on it
  'INTERNAL', // not one of ours (a bug, a library's own error) met at a boundary that needs a code
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export function isErrorCode(v: unknown): v is ErrorCode {
  return typeof v === 'string' && (ERROR_CODES as readonly string[]).includes(v);
}

export class TandemError extends Error {
  readonly code: ErrorCode;
  readonly context: Readonly<Record<string, string>>;

  /** `cause` keeps the lower-level error (its stack and code) when this one wraps it. */
  constructor(code: ErrorCode, message: string, context: Record<string, string> = {}, options?: { cause?: unknown }) {
    const ctx = Object.entries(context).map(([k, v]) => `${k}:${v}`).join(', ');
    super(ctx ? `${message} [${ctx}]` : message, options);
    this.name = 'TandemError';
    this.code = code;
    this.context = context;
  }
}

export function isTandemError(e: unknown): e is TandemError {
  return e instanceof TandemError;
}

/** The catalogue code of anything thrown: a TandemError's own, else INTERNAL. */
export function errorCode(e: unknown): ErrorCode {
  return isTandemError(e) ? e.code : 'INTERNAL';
}

/** For text meant for people (an ng error-reason, a CLI line); logs take the Error itself as `err`. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
