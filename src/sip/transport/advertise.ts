import type { SipEndpoint, SipSender, TransportProtocol } from './types.js';

/** A listener as configured, with the host (and port) it is known by from outside, if any. */
export interface AdvertisedListen {
  protocol: TransportProtocol;
  address: string;
  /** as configured: 0 = the port the system picked. */
  port: number;
  advertise?: { host: string; port?: number };
}

/**
 * The sender the B2BUA builds Via sent-by, Contact and Call-ID hosts from: behind a 1:1 NAT the
 * bound address is private, so a listener's `advertise=HOST[:PORT]` replaces it (what Kamailio's
 * `listen=... advertise` does). Sending is unchanged: packets still leave from the bound socket.
 */
export function advertisingSender(inner: SipSender, listens: readonly AdvertisedListen[]): SipSender {
  if (!listens.some((l) => l.advertise !== undefined)) return inner;
  return {
    send: (message, destination, watcher) => inner.send(message, destination, watcher),
    localEndpoint(protocol: TransportProtocol): SipEndpoint {
      const local = inner.localEndpoint(protocol);
      // Same listener: same address, and the same port (or 0, bound to whatever the system gave).
      const same = (l: AdvertisedListen): boolean => l.address === local.address && (l.port === local.port || l.port === 0);
      // An outbound-only protocol borrows another listener's address (transport-layer.ts), and so its advertisement.
      const spec = listens.find((l) => l.protocol === local.protocol && same(l)) ?? listens.find(same);
      if (spec?.advertise === undefined) return local;
      return { protocol, address: spec.advertise.host, port: spec.advertise.port ?? local.port };
    },
  };
}

/** The endpoints a request may name and still be for us: the advertised ones too (loop detection). */
export function advertisedEndpoints(listeners: readonly SipEndpoint[], listens: readonly AdvertisedListen[]): SipEndpoint[] {
  return listeners.flatMap((local) => {
    const spec = listens.find((l) => l.protocol === local.protocol && l.address === local.address && (l.port === local.port || l.port === 0));
    return spec?.advertise === undefined ? [] : [{ protocol: local.protocol, address: spec.advertise.host, port: spec.advertise.port ?? local.port }];
  });
}
