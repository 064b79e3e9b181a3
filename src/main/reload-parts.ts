import type { Logger } from '../common/log.js';
import type { TandemConfig } from '../config/config.js';
import type { RouteTable } from '../b2bua/routes.js';
import type { Authenticator } from '../edge/auth.js';
import { UserStore } from '../edge/auth-users.js';
import type { AccessControl } from '../edge/acl.js';
import type { ReloadPart } from '../ops/reload.js';
import { aclLists, checkRoutesNeedNoAuth, realmUsers, routeTable, userCount } from './sip-files.js';

export interface ReloadTargets {
  config: TandemConfig;
  log: Logger;
  /** puts a reloaded route table in place: the B2BUA's routes and every trusted-source check. */
  setRoutes(table: RouteTable): void;
  auth?: Authenticator;
  acl: AccessControl;
}

/**
 * What a reload reads again: the files given on the command line (--routes-file, --auth-users,
 * --sip-acl-file). Everything else (listeners, limits, --trusted on the command line, the routes
 * file's `registrations`) needs a restart.
 */
export function reloadParts(t: ReloadTargets): ReloadPart[] {
  const { config, log } = t;
  const parts: ReloadPart[] = [];
  if (config.routesFile !== undefined) {
    parts.push({
      name: 'routes',
      prepare: () => {
        const table = routeTable(config);
        checkRoutesNeedNoAuth(config, table);
        return { count: table.routes.length, names: table.routes.map((r) => r.name), commit: () => t.setRoutes(table) };
      },
    });
  }
  const auth = t.auth;
  if (config.authUsers !== undefined && auth !== undefined) {
    const file = config.authUsers;
    parts.push({
      name: 'users',
      prepare: () => {
        const users = realmUsers(file, auth.realm, log);
        const store = new UserStore(users);
        return { count: userCount(users), commit: () => auth.setUsers(store) };
      },
    });
  }
  if (config.sipAclFile !== undefined) {
    parts.push({
      name: 'acl',
      prepare: () => {
        const lists = aclLists(config);
        return { count: lists.fileEntries, commit: () => t.acl.setGlobal(lists.allow, lists.deny) };
      },
    });
  }
  return parts;
}
