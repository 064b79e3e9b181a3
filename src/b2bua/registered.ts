import type { Logger } from '../common/log.js';
import type { Binding } from '../edge/location.js';
import { parseTargetUri, type RouteTarget } from './routes.js';

/**
 * A route whose target is `"registered"`: the Request-URI's AOR is looked up at the registrar and
 * each live contact becomes a target, highest q first (all are tried at once, `CallSetup.parallel`).
 *
 * A contact is reached at its flow, the transport source its REGISTER came from (RFC 5626 §5.3):
 * over TCP/TLS/WS the very connection the UA opened, over UDP the address its NAT showed us. With
 * a Path from a trusted proxy (RFC 3327) the call goes to the first Path hop instead, with the
 * whole Path as Route headers. The Request-URI is the contact as registered.
 */
export function bindingTargets(bindings: readonly Binding[], log: Logger): RouteTarget[] {
  const out: RouteTarget[] = [];
  for (const [i, b] of bindings.entries()) {
    if (b.path.length === 0) {
      out.push({ uri: b.contact, endpoint: { ...b.flow }, weight: 1, priority: i + 1, flow: true });
      continue;
    }
    try {
      const hop = parseTargetUri(b.path[0], 'Path');
      out.push({ uri: b.contact, endpoint: hop.endpoint, weight: 1, priority: i + 1, routeSet: [...b.path] });
    } catch (err) {
      // Path entries came from a trusted proxy, but only route targets are resolved by DNS: a host name here cannot be used.
      log.warn({ err, aor: b.aor, contact: b.contact }, 'registered contact skipped: its Path cannot be followed');
    }
  }
  return out;
}
