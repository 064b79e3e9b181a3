import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isIP, type AddressInfo } from 'node:net';
import type { Logger } from '../common/log.js';
import { TandemError, errorMessage } from '../common/errors.js';

/** Limits of the admin listener; each has a default and a counter in {@link AdminHttpCounters}. */
export interface AdminHttpLimits {
  /** open connections at most; more are closed by Node at accept (counter `refusedConnections`). */
  maxConnections: number;
  /** request body bytes at most (counter `tooLarge`, 413). */
  maxBodyBytes: number;
  /** a request's headers and body must be in within this (counter `timeouts`, 408). */
  requestTimeoutMs: number;
  /** an idle keep-alive connection is closed after this. */
  keepAliveMs: number;
}

export const DEFAULT_ADMIN_LIMITS: Readonly<AdminHttpLimits> = { maxConnections: 16, maxBodyBytes: 16 * 1024, requestTimeoutMs: 10_000, keepAliveMs: 5_000 };

export interface AdminHttpCounters {
  requests: number;
  refusedConnections: number;
  tooLarge: number;
  timeouts: number;
  /** a Host that is not an IP address or localhost (DNS rebinding), or a POST that is not JSON (a browser's cross-site form). */
  forbidden: number;
  notFound: number;
  badRequests: number;
  errors: number;
}

/** What a route answers: a status, and JSON (an object) or text with its content type. */
export type AdminReply = { status: number; json: unknown } | { status: number; text: string; contentType: string };

export interface AdminRequest {
  method: string;
  /** path segments after the leading `/`, decoded. */
  path: string[];
  query: URLSearchParams;
  /** the parsed JSON body of a POST (undefined without one). */
  body: unknown;
}

export type AdminRoute = (req: AdminRequest) => Promise<AdminReply | undefined> | AdminReply | undefined;

/** A request the admin API refuses, with the HTTP status it gets (400, 404, 409, 413…). */
export class AdminRequestError extends TandemError {
  constructor(readonly status: number, message: string) {
    super(status === 413 ? 'TOO_LARGE' : 'BAD_REQUEST', message);
    this.name = 'AdminRequestError';
  }
}

/** The request target as a URL; Node's parser passes targets URL refuses (`GET http://[`), a 400 here. */
function requestUrl(target: string | undefined): URL {
  try {
    return new URL(target ?? '/', 'http://admin');
  } catch {
    throw new AdminRequestError(400, `bad request: the target "${(target ?? '').slice(0, 64)}" is not a URL`);
  }
}

/**
 * The admin HTTP listener (node:http, no framework): /metrics, /healthz, /readyz and a small JSON
 * API. It has no authentication: it binds loopback unless told otherwise (--listen-http). A browser
 * on the same host cannot be turned against it: the Host must be an IP address or localhost (no
 * DNS rebinding), and a POST must say `application/json` (a cross-site form cannot without CORS
 * preflight, which is never answered).
 */
export class AdminHttpServer {
  readonly counters: AdminHttpCounters = { requests: 0, refusedConnections: 0, tooLarge: 0, timeouts: 0, forbidden: 0, notFound: 0, badRequests: 0, errors: 0 };
  private readonly server: Server;
  private readonly limits: AdminHttpLimits;

  constructor(
    private readonly route: AdminRoute,
    private readonly log: Logger,
    limits: Partial<AdminHttpLimits> = {},
  ) {
    this.limits = { ...DEFAULT_ADMIN_LIMITS, ...limits };
    const t = this.limits.requestTimeoutMs;
    // Node checks request deadlines every connectionsCheckingInterval (30 s by default): check often enough to keep them.
    this.server = createServer({ requestTimeout: t, headersTimeout: t, keepAliveTimeout: this.limits.keepAliveMs, maxHeaderSize: 8192, connectionsCheckingInterval: Math.min(30_000, Math.max(50, Math.floor(t / 4))) }, (req, res) => void this.handle(req, res));
    this.server.maxConnections = this.limits.maxConnections;
    this.server.on('drop', () => this.counters.refusedConnections++);
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') this.counters.timeouts++;
      else this.counters.badRequests++;
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      if (socket.writable) socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
      else socket.destroy();
    });
  }

  listen(address: string, port: number): Promise<{ address: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, address, () => {
        this.server.off('error', reject);
        const a = this.server.address() as AddressInfo;
        resolve({ address: a.address, port: a.port });
      });
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.counters.requests++;
    try {
      const host = (req.headers.host ?? '').replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
      if (host !== 'localhost' && isIP(host) === 0) {
        this.counters.forbidden++;
        return this.send(res, { status: 403, json: { error: 'the Host header must be an IP address or localhost' } });
      }
      const method = req.method ?? 'GET';
      let body: unknown;
      if (method === 'POST' || method === 'PUT' || method === 'DELETE') {
        const raw = await this.readBody(req);
        if (raw.length > 0 || method === 'POST') {
          if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
            this.counters.forbidden++;
            return this.send(res, { status: 415, json: { error: 'POST bodies must be application/json' } });
          }
          body = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8')) as unknown;
        }
      }
      const url = requestUrl(req.url);
      const path = url.pathname.split('/').filter((s) => s !== '').map((s) => decodeURIComponent(s));
      const reply = await this.route({ method, path, query: url.searchParams, body });
      if (reply === undefined) {
        this.counters.notFound++;
        return this.send(res, { status: 404, json: { error: `no ${method} ${url.pathname}` } });
      }
      this.send(res, reply);
    } catch (err) {
      if (err instanceof AdminRequestError) {
        if (err.status === 413) this.counters.tooLarge++;
        else this.counters.badRequests++;
        // The rest of a refused body is never read: the connection ends after the reply.
        return this.send(res, { status: err.status, json: { error: err.message } }, err.status === 413);
      }
      if (err instanceof SyntaxError || err instanceof URIError) {
        this.counters.badRequests++;
        return this.send(res, { status: 400, json: { error: `bad request: ${err.message}` } });
      }
      this.counters.errors++;
      this.log.error({ err, url: req.url }, 'admin request failed');
      this.send(res, { status: 500, json: { error: errorMessage(err) } });
    }
  }

  private readBody(req: IncomingMessage): Promise<Buffer> {
    const max = this.limits.maxBodyBytes;
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > max) return Promise.reject(new AdminRequestError(413, `request body over ${max} bytes`));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      // Past the limit the body is no longer read (destroying the request would also drop the 413).
      const onData = (c: Buffer): void => {
        size += c.length;
        if (size > max) {
          req.off('data', onData);
          req.pause();
          reject(new AdminRequestError(413, `request body over ${max} bytes`));
          return;
        }
        chunks.push(c);
      };
      req.on('data', onData);
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });
  }

  private send(res: ServerResponse, reply: AdminReply, close = false): void {
    if (res.headersSent || res.destroyed) return;
    const [body, type] = 'json' in reply ? [`${JSON.stringify(reply.json, null, 1)}\n`, 'application/json'] : [reply.text, reply.contentType];
    res.writeHead(reply.status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', ...(close ? { Connection: 'close' } : {}) });
    res.end(body);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
