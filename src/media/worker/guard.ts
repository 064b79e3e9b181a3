import type { MediaRemoteInfo, MediaSocket } from './media-socket.js';

/**
 * No socket handler may throw: an exception inside a packet handler (or a synchronous throw from a
 * send, e.g. dgram's ERR_SOCKET_BAD_PORT or a send the batch backend refuses) is uncaught in the
 * worker thread and takes every call on it down. Whatever a peer sends, the packet is counted and dropped instead.
 */

export interface GuardLog {
  warn(obj: object, msg: string): void;
}

/** Per worker thread: packets dropped because handling or sending them threw. */
export const guardCounters = { caught: 0 };
let log: GuardLog | undefined;

export function setGuardLog(l: GuardLog): void {
  log = l;
}

function report(err: unknown, callId: string, where: string): void {
  guardCounters.caught++;
  // The first one and then one in a thousand: a peer that triggers it per packet must not flood the log.
  if (log !== undefined && (guardCounters.caught === 1 || guardCounters.caught % 1000 === 0))
    log.warn({ callId, where, caught: guardCounters.caught, err: err instanceof Error ? err : new Error(String(err)) }, 'packet dropped: its handler threw');
}

export function guardHandler(
  callId: string,
  where: string,
  fn: (msg: Buffer, rinfo: MediaRemoteInfo) => void,
  onDrop: () => void,
): (msg: Buffer, rinfo: MediaRemoteInfo) => void {
  return (msg, rinfo) => {
    try {
      fn(msg, rinfo);
    } catch (err) {
      onDrop();
      report(err, callId, where);
    }
  };
}

/** A send that cannot throw; false when the datagram was not handed on (to the kernel, or the batch queue). */
export function safeSend(sock: Pick<MediaSocket, 'send'>, callId: string, buf: Buffer, len: number, to?: { port: number; address: string }): boolean {
  try {
    if (to === undefined) sock.send(buf, len);
    else sock.send(buf, len, to.port, to.address);
    return true;
  } catch (err) {
    report(err, callId, 'send');
    return false;
  }
}
