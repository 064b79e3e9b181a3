import { isIP } from 'node:net';
import { TandemError } from '../common/errors.js';
import { wholeNumber as whole } from './values.js';

/** ng over TCP (src/control/ng-tcp.ts), rtpengine's `--listen-tcp-ng`; off unless given. */
export interface NgTcpConfig {
  listenTcpNg?: { address: string; port: number };
  ngTcpMaxConnections: number;
  /** Largest request or reply over TCP, bytes. */
  ngTcpMaxMessage: number;
  /** ms without a complete message before a connection is closed; 0 = never. */
  ngTcpIdleTimeout: number;
  /** ms a message may take to arrive after its first byte. */
  ngTcpMessageTimeout: number;
}

type NgTcpKey = keyof NgTcpConfig;

export const NG_TCP_OPTIONS: readonly { key: NgTcpKey; name: string; arg: string; help: string }[] = [
  { key: 'listenTcpNg', name: 'listen-tcp-ng', arg: '[IP:]PORT', help: 'ng control protocol over TCP as well, framed as rtpengine frames it; a bare PORT binds 127.0.0.1 (default: off)' },
  { key: 'ngTcpMaxConnections', name: 'ng-tcp-max-connections', arg: 'INT', help: 'open ng TCP connections at most; more are closed at once (default 128)' },
  { key: 'ngTcpMaxMessage', name: 'ng-tcp-max-message', arg: 'BYTES', help: 'largest ng request over TCP (a larger one ends the connection) and reply (a larger one becomes an error) (default 262144)' },
  { key: 'ngTcpIdleTimeout', name: 'ng-tcp-idle-timeout', arg: 'MS', help: 'close an ng TCP connection after this long without a message; 0 = never (default 600000)' },
  { key: 'ngTcpMessageTimeout', name: 'ng-tcp-message-timeout', arg: 'MS', help: 'close an ng TCP connection whose message is not complete this long after its first byte (default 10000)' },
];

export function ngTcpDefaults(): NgTcpConfig {
  return { ngTcpMaxConnections: 128, ngTcpMaxMessage: 256 * 1024, ngTcpIdleTimeout: 600_000, ngTcpMessageTimeout: 10_000 };
}

export function isNgTcpKey(key: string): key is NgTcpKey {
  return NG_TCP_OPTIONS.some((o) => o.key === key);
}

/**
 * rtpengine's `[IP46:]PORT` for the ng listeners: a bare port (or `localhost:PORT`, as Debian's
 * rtpengine.conf says) binds 127.0.0.1; `[IPv6]:PORT` for IPv6.
 */
export function ngListenAddress(where: string, name: string, v: string): { address: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(v) ?? /^(\d+)$/.exec(v);
  if (m === null) throw new TandemError('CONFIG', `${where}${name}: "${v}" must be [IP:]PORT`);
  const given = m.length === 2 ? undefined : (m[1] ?? m[2]);
  const address = given === undefined || given.toLowerCase() === 'localhost' ? '127.0.0.1' : given;
  const port = whole(where, name, m.length === 2 ? m[1] : m[3], 0, 65535);
  if (isIP(address) === 0) throw new TandemError('CONFIG', `${where}${name}: "${address}" is not an IP address (or localhost)`);
  return { address, port };
}

export function applyNgTcpOption(cfg: NgTcpConfig, key: NgTcpKey, name: string, v: string, where: string): void {
  switch (key) {
    case 'listenTcpNg':
      cfg.listenTcpNg = ngListenAddress(where, name, v);
      return;
    case 'ngTcpMaxConnections':
      cfg.ngTcpMaxConnections = whole(where, name, v, 1, 100_000);
      return;
    case 'ngTcpMaxMessage':
      // A reply to a plain offer must fit; past 16 MiB a buffer per connection is the attack.
      cfg.ngTcpMaxMessage = whole(where, name, v, 4096, 16 * 1024 * 1024);
      return;
    case 'ngTcpIdleTimeout':
      cfg.ngTcpIdleTimeout = whole(where, name, v, 0, 86_400_000);
      return;
    case 'ngTcpMessageTimeout':
      cfg.ngTcpMessageTimeout = whole(where, name, v, 100, 600_000);
  }
}
