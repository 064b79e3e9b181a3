import type { SipMessage } from '../message.js';

/** `ws`/`wss`: SIP over WebSocket (RFC 7118), inbound only: browsers connect to us. */
export type TransportProtocol = 'udp' | 'tcp' | 'tls' | 'ws' | 'wss';

/** One end of a SIP hop: where a message came from or goes to. */
export interface SipEndpoint {
  protocol: TransportProtocol;
  address: string;
  port: number;
  /** TLS to an address resolved from a name: the name its certificate must carry (RFC 5922 §4, the URI's host). */
  serverName?: string;
}

/** A parsed message as the transport hands it up. */
export interface InboundMessage {
  message: SipMessage;
  /** the packet's or connection's remote end; responses to a request go back here (RFC 3581 symmetric). */
  source: SipEndpoint;
  /** the listener it arrived on. */
  local: SipEndpoint;
}

/**
 * A client transaction waiting for the final response to a request sent on a stream connection
 * (TCP, TLS, WebSocket): told if that connection closes or fails first (RFC 3261 §18.4).
 */
export interface StreamWatcher {
  /** false once the final response came (or the transaction ended): the transport drops it. */
  readonly watching: boolean;
  connectionLost(err: Error): void;
  /** set by the transport while the watcher is attached: stops watching. */
  detach?: () => void;
}

/** What transactions and the B2BUA need from the transport layer. */
export interface SipSender {
  /**
   * Sends a message. Over TCP/TLS an existing connection to the destination is reused or a new one
   * opened. Rejects when the message cannot be delivered (connect refused, TLS failure, send error):
   * for a client transaction that is a transport error (RFC 3261 §8.1.3.1, treated like 503).
   * `watcher` (TCP, TLS, WS, WSS; ignored over UDP): attached to the connection the message went
   * out on, and told if it closes while the watcher still waits.
   */
  send(message: SipMessage, destination: SipEndpoint, watcher?: StreamWatcher): Promise<void>;
  /** The address and port a listener of this protocol advertises (for Via and Contact). */
  localEndpoint(protocol: TransportProtocol): SipEndpoint;
}

export function isReliable(protocol: TransportProtocol): boolean {
  return protocol !== 'udp';
}

export function formatEndpoint(e: SipEndpoint): string {
  const host = e.address.includes(':') ? `[${e.address}]` : e.address;
  return `${e.protocol}:${host}:${e.port}`;
}

