import type { Logger } from '../common/log.js';
import { errorMessage } from '../common/errors.js';

/**
 * One file a reload reads: `prepare()` reads and checks it (throwing on any fault, naming
 * file:line) without changing anything; `commit()` puts what it read in place and cannot fail.
 */
export interface ReloadPart {
  /** what the reply and the counters call it: routes, users, acl. */
  name: string;
  prepare(): PreparedReload;
}

export interface PreparedReload {
  /** entries read (routes, users, access-list entries), for the reply and the log. */
  count: number;
  /** extra detail for the reply (the route names). */
  names?: string[];
  commit(): void;
}

/** A reload's outcome: what was read, or why nothing was (every old setting stays). */
export type ReloadResult =
  | { ok: true; reloaded: Record<string, number>; routes?: string[] }
  | { ok: false; error: string; failed?: string };

export interface ReloadCounters {
  ok: number;
  /** refused reloads, by the part whose file was refused. */
  failed: Record<string, number>;
}

/**
 * SIGHUP, `tandem ctl reload`, `POST /api/reload`: every part is prepared first, then, only if all
 * of them read cleanly, every one is committed, in one synchronous run (no request is handled
 * between two commits). So a bad file anywhere refuses the whole reload and every old setting
 * stays; a good one never lands half-way.
 */
export class Reloader {
  readonly counters: ReloadCounters = { ok: 0, failed: {} };

  constructor(
    private readonly parts: readonly ReloadPart[],
    private readonly log: Logger,
  ) {}

  get names(): string[] {
    return this.parts.map((p) => p.name);
  }

  reload(): ReloadResult {
    const prepared: [string, PreparedReload][] = [];
    for (const part of this.parts) {
      try {
        prepared.push([part.name, part.prepare()]);
      } catch (err) {
        this.counters.failed[part.name] = (this.counters.failed[part.name] ?? 0) + 1;
        this.log.error({ err, failed: part.name }, 'reload refused; every old setting stays');
        return { ok: false, error: errorMessage(err), failed: part.name };
      }
    }
    for (const [, p] of prepared) p.commit();
    this.counters.ok++;
    const reloaded = Object.fromEntries(prepared.map(([name, p]) => [name, p.count]));
    const routes = prepared.find(([name]) => name === 'routes')?.[1].names;
    this.log.info({ reloaded, ...(routes !== undefined ? { routes } : {}) }, 'reloaded');
    return { ok: true, reloaded, ...(routes !== undefined ? { routes } : {}) };
  }
}
