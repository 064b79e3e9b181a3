import type { Logger } from '../common/log.js';
import { systemClock } from '../common/clock.js';
import { TandemError } from '../common/errors.js';
import type { TandemConfig } from '../config/config.js';
import { primaryInterface } from '../config/interface-options.js';
import { loadRoutesFile, singleTargetTable, type RouteTable } from '../b2bua/routes.js';
import { resolveLegInterfaces } from '../b2bua/policy.js';
import { Authenticator } from '../edge/auth.js';
import { UserStore, loadUsersFile, type UserEntry } from '../edge/auth-users.js';
import { loadAclFile } from '../edge/acl-file.js';

/**
 * What the SIP side reads from the files the operator edits (routes, users, access list), read
 * the same way at start and at a reload, so a file that starts Tandem also reloads and the reverse.
 */

export function routeTable(config: TandemConfig): RouteTable {
  let table: RouteTable;
  if (config.routesFile !== undefined) table = loadRoutesFile(config.routesFile);
  else if (config.route !== undefined) {
    table = singleTargetTable(config.route, {
      ...(config.bCodecs !== undefined ? { codecs: config.bCodecs } : {}),
      ...(config.bPtime !== undefined ? { ptime: config.bPtime } : {}),
      ...(config.bSrtp !== undefined ? { srtp: config.bSrtp } : {}),
      ...(config.bIce !== undefined ? { ice: config.bIce } : {}),
      transcode: config.bTranscode,
    });
  } else table = { routes: [], trustedProxySources: [], trusted: [] };
  // Our own media plane knows the interface names; a remote one (--media=ng) judges them itself.
  if (config.media.kind === 'local') {
    const names = (config.interfaces ?? [primaryInterface(config)]).map((i) => i.name);
    for (const r of table.routes) resolveLegInterfaces(r.policy, names, `${config.routesFile ?? '--route'}: route ${r.name}`);
  }
  return { ...table, trustedProxySources: [...table.trustedProxySources, ...config.trustedProxies], trusted: [...table.trusted, ...config.trusted] };
}

/** A route that names a user or asks for authentication cannot be honoured without --auth-users: a configuration error, not an open door. */
export function checkRoutesNeedNoAuth(config: TandemConfig, routes: RouteTable): void {
  if (config.authUsers !== undefined) return;
  const needy = routes.routes.find((r) => r.auth === 'required' || r.match.user !== undefined);
  if (needy !== undefined) throw new TandemError('CONFIG', `route ${needy.name}: "auth": "required" or match.user needs --auth-users`);
}

export function authRealm(config: TandemConfig): string {
  const first = config.listenSip[0]?.address;
  return config.realm ?? (first === undefined || /^(0\.0\.0\.0|::)$/.test(first) ? 'tandem' : first);
}

/** The users file's entries of our realm (a file without any is warned about: nobody can authenticate). */
export function realmUsers(file: string, realm: string, log: Logger): UserEntry[] {
  const entries = loadUsersFile(file);
  const users = entries.filter((e) => e.realm === realm);
  if (users.length === 0) log.warn({ file, realm, realmsInFile: [...new Set(entries.map((e) => e.realm))].slice(0, 10) }, 'no user in the users file belongs to this realm (see --realm): nobody can authenticate');
  return users;
}

/** Distinct user names among entries (a user has an MD5 and a SHA-256 line). */
export function userCount(users: readonly UserEntry[]): number {
  return new Set(users.map((e) => e.user)).size;
}

/** The digest authenticator of `--auth-users`, or undefined. */
export function authenticator(config: TandemConfig, routes: RouteTable, log: Logger, onFailure: (source: string) => void): Authenticator | undefined {
  checkRoutesNeedNoAuth(config, routes);
  if (config.authUsers === undefined) return undefined;
  const realm = authRealm(config);
  const users = realmUsers(config.authUsers, realm, log);
  log.info({ realm, users: userCount(users), algorithms: config.authAlgorithms }, 'digest authentication on');
  return new Authenticator({ users: new UserStore(users), realm, clock: systemClock, log: log.child({ component: 'auth' }), algorithms: config.authAlgorithms, onFailure });
}

/** --sip-allow/--sip-deny with --sip-acl-file's entries added; `fileEntries` counts the file's. */
export function aclLists(config: TandemConfig): { allow?: string[]; deny?: string[]; fileEntries: number } {
  const file = config.sipAclFile === undefined ? { allow: [], deny: [] } : loadAclFile(config.sipAclFile);
  const allow = [...(config.sipAllow ?? []), ...file.allow];
  const deny = [...(config.sipDeny ?? []), ...file.deny];
  return { ...(allow.length > 0 ? { allow } : {}), ...(deny.length > 0 ? { deny } : {}), fileEntries: file.allow.length + file.deny.length };
}
