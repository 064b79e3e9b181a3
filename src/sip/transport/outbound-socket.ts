import net from 'node:net';
import tls from 'node:tls';
import type { SipEndpoint } from './types.js';

/** Opens an outbound TCP or TLS socket to `to` (RFC 3261 §18.1.1); the caller waits for it to connect. */
export function connectStream(to: SipEndpoint, opts: { ca?: string; verify: boolean }): net.Socket {
  if (to.protocol !== 'tls') return net.connect(to.port, to.address);
  return tls.connect({
    host: to.address,
    port: to.port,
    // SNI carries host names only; an IP target is checked against the certificate's IP SANs.
    ...(to.serverName !== undefined ? { servername: to.serverName } : net.isIP(to.address) === 0 ? { servername: to.address } : {}),
    ...(opts.ca !== undefined ? { ca: opts.ca } : {}),
    rejectUnauthorized: opts.verify,
  });
}

/** OpenSSL's verification failures (as opposed to a refused or reset connection). */
export function isCertificateError(err: Error & { code?: string }): boolean {
  return /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS_CERT_ALTNAME/.test(err.code ?? '');
}
