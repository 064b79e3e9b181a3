import { errorMessage } from '../common/errors.js';

/** `tandem ctl`'s exit codes (README "Operations"). */
export const CTL_EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

const USAGE = `Usage: tandem ctl [--url=http://127.0.0.1:9900] [--json] [--timeout=MS] [--limit=N] COMMAND
Commands:
  status               drain state, sessions, limits
  list                 live calls (B2BUA calls and ng media sessions; the first 1000, or --limit)
  show CALLID          one call: legs, codecs, ports, counters, loss, jitter, MOS
  terminate CALLID     hang up both legs (B2BUA) or delete the media session
  maxsessions N        media session limit (0 = none)
  drain                refuse new calls, let live ones end, then exit (as SIGTERM)
  reload               read the routes, users and access-list files again, all or nothing (as SIGHUP)
  bans                 sources the flood defence has banned
Exit codes: 0 done, 1 refused or not found, 2 usage, 3 Tandem not reachable.
`;

interface CtlRequest {
  method: 'GET' | 'POST';
  path: string;
  body?: unknown;
}

function requestFor(cmd: string, args: string[], limit?: number): CtlRequest | string {
  const one = (): string | undefined => (args.length === 1 && args[0] !== '' ? args[0] : undefined);
  switch (cmd) {
    case 'status':
      return { method: 'GET', path: '/api/status' };
    case 'list':
      return { method: 'GET', path: `/api/calls${limit !== undefined ? `?limit=${limit}` : ''}` };
    case 'bans':
      return { method: 'GET', path: '/api/bans' };
    case 'drain':
      return { method: 'POST', path: '/api/drain' };
    case 'reload':
      return { method: 'POST', path: '/api/reload' };
    case 'show':
    case 'terminate': {
      const id = one();
      if (id === undefined) return `${cmd} needs one CALLID`;
      return cmd === 'show' ? { method: 'GET', path: `/api/calls/${encodeURIComponent(id)}` } : { method: 'POST', path: `/api/calls/${encodeURIComponent(id)}/terminate` };
    }
    case 'maxsessions': {
      const n = one();
      if (n === undefined || !/^\d{1,8}$/.test(n)) return 'maxsessions needs a whole number N (0 = no limit)';
      return { method: 'POST', path: '/api/maxsessions', body: { maxSessions: Number(n) } };
    }
    default:
      return `unknown command "${cmd}"`;
  }
}

/** Human-readable output of a successful reply. */
function describe(cmd: string, body: Record<string, unknown>): string {
  if (cmd === 'list') {
    const calls = (body.calls as Record<string, unknown>[] | undefined) ?? [];
    const rows = calls.map((c) => [c.callId, c.kind, c.state ?? '-', c.route ?? '-', c.from ?? '-', c.to ?? '-', c.startedAt ?? '-'].map(String).join('  '));
    const more = body.truncated === true ? ` of ${String(body.total)} (the first ${calls.length}; --limit=N for more)` : '';
    return [`${calls.length} call(s)${more}`, ...rows].join('\n');
  }
  if (cmd === 'bans') {
    const bans = (body.bans as Record<string, unknown>[] | undefined) ?? [];
    if (body.pike === 'off') return 'flood defence off (--pike=off)';
    return [`${bans.length} banned source(s)`, ...bans.map((b) => `${String(b.source)}  ${Math.round(Number(b.remainingMs) / 1000)} s left  offences ${String(b.offences)}  rate ${String(b.rate)}`)].join('\n');
  }
  return Object.entries(body).map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`).join('\n');
}

/** `tandem ctl …`: talks to the admin API of a running Tandem (--listen-http). Returns the exit code. */
export async function runCtl(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s), err: (s: string) => void = (s) => process.stderr.write(s)): Promise<number> {
  let url = 'http://127.0.0.1:9900';
  let asJson = false;
  let timeoutMs = 5000;
  let limit: number | undefined;
  const rest: string[] = [];
  for (const a of argv) {
    const m = /^--(url|timeout|limit)=(.*)$/.exec(a);
    if (a === '--json') asJson = true;
    else if (a === '--help' || a === '-h') {
      out(USAGE);
      return CTL_EXIT.ok;
    } else if (m?.[1] === 'url') url = m[2].replace(/\/+$/, '');
    else if (m?.[1] === 'timeout' && /^\d{1,7}$/.test(m[2]) && Number(m[2]) > 0) timeoutMs = Number(m[2]);
    else if (m?.[1] === 'limit' && /^\d{1,7}$/.test(m[2])) limit = Number(m[2]);
    else if (a.startsWith('--')) {
      err(`tandem ctl: unknown option ${a}\n${USAGE}`);
      return CTL_EXIT.usage;
    } else rest.push(a);
  }
  const [cmd, ...args] = rest;
  if (cmd === undefined) {
    err(USAGE);
    return CTL_EXIT.usage;
  }
  const req = requestFor(cmd, args, limit);
  if (typeof req === 'string') {
    err(`tandem ctl: ${req}\n${USAGE}`);
    return CTL_EXIT.usage;
  }
  if (!/^https?:\/\/[^/]+$/.test(url)) {
    err(`tandem ctl: --url: "${url}" must be http://HOST:PORT\n`);
    return CTL_EXIT.usage;
  }
  let res: Response;
  try {
    res = await fetch(`${url}${req.path}`, {
      method: req.method,
      signal: AbortSignal.timeout(timeoutMs),
      ...(req.method === 'POST' ? { headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(req.body ?? {}) } : {}),
    });
  } catch (e) {
    const cause = e instanceof Error && e.cause !== undefined ? `: ${errorMessage(e.cause)}` : '';
    err(`tandem ctl: cannot reach Tandem at ${url} (${errorMessage(e)}${cause}); is --listen-http on?\n`);
    return CTL_EXIT.unreachable;
  }
  let body: Record<string, unknown>;
  try {
    body = (await res.json()) as Record<string, unknown>;
  } catch (e) {
    err(`tandem ctl: ${url}${req.path} answered ${res.status} without JSON (${errorMessage(e)})\n`);
    return CTL_EXIT.failed;
  }
  if (asJson) out(`${JSON.stringify(body, null, 2)}\n`);
  if (!res.ok) {
    if (!asJson) err(`tandem ctl: ${cmd}: ${typeof body.error === 'string' ? body.error : `HTTP ${res.status}`}\n`);
    return CTL_EXIT.failed;
  }
  if (!asJson) out(`${describe(cmd, body)}\n`);
  return CTL_EXIT.ok;
}
