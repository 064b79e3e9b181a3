/** The transport layer's counters (`SipTransportLayer.stats()`). */
export interface TransportCounters {
  received: number;
  sent: number;
  malformed: number;
  rejected: number;
  dropped: number;
  /** stream connections ever adopted (inbound after any TLS handshake, and outbound). */
  connections: number;
  /** messages over the size limit (answered 513 when the headers allow it). */
  oversized: number;
  idleTimeouts: number;
  messageTimeouts: number;
  tlsHandshakeTimeouts: number;
  /** connections closed because the peer did not read what we sent (MAX_WRITE_BACKLOG). */
  writeBacklogCloses: number;
  /** outbound TLS connections refused because the peer's certificate did not verify. */
  tlsVerifyFailures: number;
  /** datagrams, connections and stream messages the admit hook refused (dropped without a word). */
  notAdmitted: number;
  /** client transactions failed because the TCP/TLS/WebSocket connection their request went out on closed first (RFC 3261 §18.4). */
  transactionsLost: number;
}

export interface TransportStats extends TransportCounters {
  /** warning lines not written by the per-source log rate limit. */
  logsSuppressed: number;
  /** stream sockets open now (handshakes included), WebSocket ones too. */
  openConnections: number;
  refusedConnections: number;
  refusedConnectionsPerSource: number;
  wsPingTimeouts: number;
  /** the connection cap enforced (configured, lowered to a quarter of the descriptor limit). */
  maxConnections: number;
}
