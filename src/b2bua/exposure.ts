import type { SipEndpoint } from '../sip/transport/types.js';

/** 127.0.0.0/8, ::1 and their IPv4-mapped form: only this host can reach them. */
export function isLoopback(address: string): boolean {
  return /^127\./.test(address) || address === '::1' || /^::ffff:127\./i.test(address);
}

/**
 * The SIP listeners others can reach (`proto:address:port`). There is no authentication yet, so
 * whoever reaches one of these can place calls on every route: the start warns about each.
 */
export function exposedListeners(listeners: readonly SipEndpoint[]): string[] {
  return listeners.filter((l) => !isLoopback(l.address)).map((l) => `${l.protocol}:${l.address.includes(':') ? `[${l.address}]` : l.address}:${l.port}`);
}
