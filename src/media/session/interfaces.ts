import { TandemError } from '../../common/errors.js';
import type { Side } from './call.js';

/** One media interface (rtpengine's `--interface=[NAME/]IP[!ADVERTISED]`). */
export interface MediaInterfaceSpec {
  name: string;
  /** Address the sockets bind to. */
  address: string;
  /** Address the SDP names instead (1:1 NAT); undefined = `address`. */
  advertise?: string;
}

/** The address an SDP toward a peer on this interface names. */
export function sdpAddress(i: MediaInterfaceSpec): string {
  return i.advertise ?? i.address;
}

/**
 * The configured interfaces, and which one each side of a call gets. rtpengine's `direction`
 * names two: the first faces the offerer, the second the answerer; without it both sides get the
 * first interface. Only the offer that creates a call chooses: later offers keep the choice.
 */
export class MediaInterfaces {
  constructor(private readonly list: readonly MediaInterfaceSpec[]) {
    if (list.length === 0) throw new TandemError('CONFIG', 'no media interface');
  }

  /** [offerer's, answerer's] interface for a new call; an unknown name is the request's error. */
  select(direction: readonly [string, string] | undefined, callId: string): [MediaInterfaceSpec, MediaInterfaceSpec] {
    if (direction === undefined) return [this.list[0], this.list[0]];
    const byName = (name: string): MediaInterfaceSpec => {
      const hit = this.list.find((i) => i.name === name);
      if (hit === undefined) throw new TandemError('BAD_REQUEST', `direction names unknown interface "${name}" (configured: ${this.list.map((i) => i.name).join(', ')})`, { 'call-id': callId });
      return hit;
    };
    return [byName(direction[0]), byName(direction[1])];
  }

  /** Per call side, given the side that made the creating offer. */
  static bySide(chosen: [MediaInterfaceSpec, MediaInterfaceSpec], offerSide: Side): [MediaInterfaceSpec, MediaInterfaceSpec] {
    return offerSide === 0 ? chosen : [chosen[1], chosen[0]];
  }
}
