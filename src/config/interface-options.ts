import { isIP } from 'node:net';
import { TandemError } from '../common/errors.js';

/**
 * Media interfaces in rtpengine's `--interface=[NAME/]IP[!ADVERTISED]` syntax. Behind a 1:1 NAT
 * (every cloud VM) the sockets must bind the private address while the SDP names the public one,
 * or the far end sends its media to an address it cannot reach.
 */
export interface MediaInterface {
  /** rtpengine's logical name; "default" when none is given. */
  name: string;
  /** Address media sockets bind to. */
  address: string;
  /** Address the SDP names (c=, o=, ICE candidates) instead of `address`; undefined = `address`. */
  advertise?: string;
}

export interface InterfaceConfig {
  /** Every --interface given, in order; undefined = one interface, `interface`, not advertised. */
  interfaces?: MediaInterface[];
}

const NAME = /^[A-Za-z0-9_.-]{1,32}$/;

/** Where each config's interfaces came from: the command line replaces the file's list rather than adding to it. */
const SOURCE = new WeakMap<object, string>();

/** Parses one `[NAME/]IP[!ADVERTISED]`; `opt` names the option in errors. */
export function parseInterface(entry: string, opt: string): MediaInterface {
  const m = /^(?:([^/!]*)\/)?([^/!]*)(?:!([^/!]*))?$/.exec(entry);
  if (m === null) throw new TandemError('CONFIG', `${opt}: "${entry}" must be [NAME/]IP[!ADVERTISED]`);
  const [, name, address, advertise] = m;
  if (name !== undefined && !NAME.test(name)) throw new TandemError('CONFIG', `${opt}: interface name "${name}" must be 1–32 letters, digits, . _ or -`);
  if (isIP(address) === 0) throw new TandemError('CONFIG', `${opt}: "${address}" is not an IP address`);
  if (advertise !== undefined && isIP(advertise) === 0) throw new TandemError('CONFIG', `${opt}: advertised address "${advertise}" is not an IP address`);
  // One SDP c= line carries one family: a v4 socket cannot be advertised as a v6 address.
  if (advertise !== undefined && isIP(advertise) !== isIP(address)) throw new TandemError('CONFIG', `${opt}: "${address}" and its advertised address "${advertise}" are of different IP families`);
  return { name: name ?? 'default', address, ...(advertise !== undefined ? { advertise } : {}) };
}

/**
 * Applies `--interface`: given several times (or as a `,`/`;` list, rtpengine's config-file form)
 * the interfaces add up, and the command line's replace the config file's; `cfg.interface` stays the first one's bind address. The first is the
 * default; ng `direction` and a routes-file leg's `interface` pick others by name.
 */
export function applyInterface(cfg: InterfaceConfig & { interface: string }, name: string, raw: string, where: string): void {
  const opt = `${where}${name}`;
  const entries = raw.split(/[,;]/).map((e) => e.trim()).filter((e) => e !== '');
  if (entries.length === 0) throw new TandemError('CONFIG', `${opt}: needs [NAME/]IP[!ADVERTISED]`);
  const source = where === '--' ? 'argv' : 'file';
  const kept = SOURCE.get(cfg) === source ? (cfg.interfaces ?? []) : [];
  SOURCE.set(cfg, source);
  const all = [...kept, ...entries.map((e) => parseInterface(e, opt))];
  const names = new Set<string>();
  for (const i of all) {
    if (names.has(i.name)) throw new TandemError('CONFIG', `${opt}: interface name "${i.name}" is given twice`);
    names.add(i.name);
  }
  cfg.interfaces = all;
  cfg.interface = all[0].address;
}

/** The interface media binds and advertises: the first --interface, else the plain bind address. */
export function primaryInterface(cfg: InterfaceConfig & { interface: string }): MediaInterface {
  return cfg.interfaces?.[0] ?? { name: 'default', address: cfg.interface };
}
