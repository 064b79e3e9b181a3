import { errorCode, errorMessage } from '../common/errors.js';
import type { LocalMedia } from '../media/session/local-media.js';
import type { MediaControl } from '../media/api.js';
import type { B2bua } from '../b2bua/b2bua.js';
import type { B2buaCall } from '../b2bua/call.js';
import type { Pike } from '../edge/pike.js';
import { getFrom, getTo } from '../sip/message.js';
import { AdminRequestError, type AdminReply, type AdminRequest, type AdminRoute } from './admin-http.js';
import type { Drain } from './drain.js';
import type { Metrics } from './metrics.js';
import { callQuality } from './mos.js';

/** Routes read again from their file: the route names, or why the file was refused (the old routes stay). */
export type ReloadResult = { ok: true; routes: string[] } | { ok: false; error: string };

/** What the admin API works on. */
export interface AdminTarget {
  version: string;
  metrics?: Metrics;
  /** the local media plane (ng clients' sessions, limits, worker health). */
  media: LocalMedia;
  /** the media plane the B2BUA drives (the local one, or a remote one over ng). */
  sipMedia?: MediaControl;
  b2bua?: B2bua;
  pike?: Pike;
  drain: Drain;
  reload?: () => ReloadResult;
}

/** A B2BUA call as `tandem ctl list` shows it. */
export interface CallSummary {
  callId: string;
  kind: 'b2bua' | 'media';
  bCallId?: string;
  state?: string;
  route?: string;
  from?: string;
  to?: string;
  startedAt?: string;
  answeredAt?: string;
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

export function callSummary(c: B2buaCall): CallSummary {
  const inv = c.setup.invite;
  const s: CallSummary = { callId: c.mediaCallId, kind: 'b2bua', bCallId: c.bCallId, state: c.state, route: c.setup.routeName };
  const from = getFrom(inv)?.uriText;
  const to = getTo(inv)?.uriText;
  const answered = iso(c.answeredAt);
  return { ...s, ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}), startedAt: new Date(c.startedAt).toISOString(), ...(answered !== undefined ? { answeredAt: answered } : {}) };
}

function json(status: number, body: unknown): AdminReply {
  return { status, json: body };
}

/** A whole number from a JSON body, or a 400 naming the key. */
function wholeFrom(body: unknown, key: string, max: number): number {
  const v = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)[key] : undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > max) throw new AdminRequestError(400, `"${key}" must be a whole number 0–${max}`);
  return v;
}

/**
 * The admin listener's routes: /metrics, /healthz, /readyz, and the JSON API under /api that
 * `tandem ctl` uses (README "Operations" lists them).
 */
export function adminRoutes(t: AdminTarget): AdminRoute {
  const readiness = (): string[] => {
    const why: string[] = [];
    if (t.drain.active) why.push('draining');
    for (let i = 0; i < t.media.pool.size; i++) if (!t.media.pool.channel(i).isReady) why.push(`media worker ${i} is not running`);
    return why;
  };
  const b2buaCall = (id: string): B2buaCall | undefined => t.b2bua?.calls().find((c) => c.mediaCallId === id || c.bCallId === id);

  return async (req: AdminRequest): Promise<AdminReply | undefined> => {
    if (req.path.length > 4) return undefined;
    const [first, resource, second, third] = req.path;
    if (req.method === 'GET' && req.path.length === 1) {
      if (first === 'metrics') {
        if (t.metrics === undefined) return undefined;
        return { status: 200, text: await t.metrics.text(), contentType: t.metrics.contentType };
      }
      if (first === 'healthz') return json(200, { status: 'ok' });
      if (first === 'readyz') {
        const why = readiness();
        return json(why.length === 0 ? 200 : 503, { ready: why.length === 0, ...(why.length > 0 ? { why } : {}) });
      }
    }
    if (first !== 'api' || resource === undefined) return undefined;
    // `/api/calls/ID[/terminate]` carries an id; every other route is `/api/NAME` alone.
    if (resource !== 'calls' && second !== undefined) return undefined;
    const route = `${req.method} /api/${resource}${second !== undefined ? '/ID' : ''}`;
    switch (route) {
      case 'GET /api/status':
        return json(200, { version: t.version, ready: readiness().length === 0, ...t.drain.status(), mediaSessions: t.media.sessionCount, maxSessions: t.media.admission.maxSessions, maxTranscodes: t.media.admission.maxTranscodes, b2buaCalls: t.b2bua?.activeCalls() ?? 0 });
      case 'GET /api/calls': {
        // `?limit=N` (default 1000): a box with 50 000 sessions must not build a 10 MB reply by default.
        const raw = req.query.get('limit') ?? '1000';
        if (!/^\d{1,7}$/.test(raw)) throw new AdminRequestError(400, '"limit" must be a whole number');
        const limit = Number(raw);
        const calls = (t.b2bua?.calls() ?? []).map(callSummary);
        // Sessions of ng clients (Kamailio…) are calls too; those the B2BUA drives are listed once.
        const known = new Set(calls.map((c) => c.callId));
        const all = [...calls, ...(await t.media.list()).filter((id) => !known.has(id)).map((id): CallSummary => ({ callId: id, kind: 'media' }))];
        return json(200, { calls: all.slice(0, limit), ...(all.length > limit ? { truncated: true, total: all.length } : {}) });
      }
      case 'GET /api/calls/ID': {
        if (second === undefined || third !== undefined) return undefined;
        const call = b2buaCall(second);
        const mediaId = call?.mediaCallId ?? second;
        const plane = call !== undefined ? (t.sipMedia ?? t.media) : t.media;
        const media = await plane.query({ callId: mediaId }).catch((err: unknown) => (errorCode(err) === 'UNKNOWN_CALL' ? undefined : Promise.reject(err)));
        if (call === undefined && media === undefined) throw new AdminRequestError(404, `no call ${second}`);
        return json(200, { ...(call !== undefined ? callSummary(call) : { callId: second, kind: 'media' }), ...(media !== undefined ? { quality: callQuality(media), media } : {}) });
      }
      case 'POST /api/calls/ID':
      case 'DELETE /api/calls/ID': {
        if (second === undefined || (req.method === 'POST' && third !== 'terminate') || (req.method === 'DELETE' && third !== undefined)) return undefined;
        if (t.b2bua?.terminate(second) === true) return json(200, { terminated: second, how: 'hung up both legs' });
        try {
          await t.media.delete({ callId: second, reason: 'terminated' });
          return json(200, { terminated: second, how: 'media session deleted' });
        } catch (err) {
          if (errorCode(err) === 'UNKNOWN_CALL') throw new AdminRequestError(404, `no call ${second}`);
          throw err;
        }
      }
      case 'POST /api/maxsessions': {
        const previous = t.media.admission.maxSessions;
        t.media.admission.maxSessions = wholeFrom(req.body, 'maxSessions', 10_000_000);
        return json(200, { previous, maxSessions: t.media.admission.maxSessions });
      }
      case 'POST /api/drain':
        t.drain.start('admin API');
        return json(200, t.drain.status());
      case 'POST /api/reload': {
        if (t.reload === undefined) throw new AdminRequestError(409, 'no routes file to reload (Tandem was started without --routes-file)');
        const r = t.reload();
        return json(r.ok ? 200 : 422, r.ok ? { reloaded: true, routes: r.routes } : { reloaded: false, error: r.error });
      }
      case 'GET /api/bans':
        return json(200, { bans: t.pike?.bans() ?? [], pike: t.pike === undefined ? 'off' : 'on' });
      default:
        return undefined;
    }
  };
}

/** For the log and the reply: what a failed reload said. */
export function reloadFailure(err: unknown): ReloadResult {
  return { ok: false, error: errorMessage(err) };
}
