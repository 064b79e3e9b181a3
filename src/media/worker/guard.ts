import type dgram from 'node:dgram';

/**
 * No socket handler may throw: an exception inside a dgram 'message' handler (or a synchronous
 * throw from dgram.send, e.g. ERR_SOCKET_BAD_PORT) is uncaught in the worker thread and takes every
 * call on it down. Whatever a peer sends, the packet is counted and dropped instead.
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
  fn: (msg: Buffer, rinfo: dgram.RemoteInfo) => void,
  onDrop: () => void,
): (msg: Buffer, rinfo: dgram.RemoteInfo) => void {
  return (msg, rinfo) => {
    try {
      fn(msg, rinfo);
    } catch (err) {
      onDrop();
      report(err, callId, where);
    }
  };
}

/** dgram.send that cannot throw; false when the datagram was not handed to the kernel. */
export function safeSend(sock: Pick<dgram.Socket, 'send'>, callId: string, buf: Buffer, len: number, to?: { port: number; address: string }): boolean {
  try {
    if (to === undefined) sock.send(buf, 0, len);
    else sock.send(buf, 0, len, to.port, to.address);
    return true;
  } catch (err) {
    report(err, callId, 'send');
    return false;
  }
}
