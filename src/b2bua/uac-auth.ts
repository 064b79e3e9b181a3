import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { TandemError } from '../common/errors.js';
import type { SipHeader, SipRequest } from '../sip/message.js';
import type { ClientTransactionHandler } from '../sip/transaction/types.js';
import type { Logger } from '../common/log.js';
import type { UacAuth, UacCredentials } from '../sip/digest-client.js';

// The digest client itself lives in sip/ (tandem call answers challenges too); the B2BUA's callers import it from here.
export { authHeaderNames, authorizationValue, parseChallenge, selectChallenge, UacAuth, type AnswerResult, type Challenge, type ChallengeResult, type UacCredentials } from '../sip/digest-client.js';

/**
 * Tandem as a digest client toward a trunk (RFC 3261 §22.2): leg B's in-dialog requests resent
 * with credentials, and a route target's `"auth"` read from the routes file.
 */

/** Counters of the digest client (every call's, in SipContext): challenges we answered, and those we gave up on. */
export interface UacAuthStats {
  answered: number;
  refused: number;
}

/**
 * An in-dialog request toward a leg that may challenge it (re-INVITE, UPDATE, BYE…): sent as
 * `build([])`; a 401/407 that `auth` can answer sends `build([credentials])` again (the builder
 * takes a new CSeq; the transaction layer ACKed the challenge). A second challenge after ours
 * (or a leg without credentials) reaches `handler.onFinal` like any other failure: no loop.
 * `onResend` hears of each new request (a re-INVITE's 2xx is ACKed with its CSeq).
 */
export function sendWithAuth(o: {
  auth: UacAuth | undefined;
  build: (extra: SipHeader[]) => SipRequest;
  send: (req: SipRequest, handler: ClientTransactionHandler) => void;
  handler: ClientTransactionHandler;
  onResend?: (req: SipRequest) => void;
  log: Logger;
  stats?: UacAuthStats;
}): SipRequest {
  let sent = false;
  let staleRetried = false;
  const go = (extra: SipHeader[]): SipRequest => {
    const req = o.build(extra);
    o.send(req, {
      ...o.handler,
      onFinal: (res) => {
        if ((res.status === 401 || res.status === 407) && o.auth !== undefined) {
          const r = o.auth.answer(res, { method: req.method, uri: req.uri }, sent, staleRetried);
          if (r.ok) {
            if (r.stale === true) staleRetried = true;
            sent = true;
            if (o.stats !== undefined) o.stats.answered++;
            o.log.info({ method: req.method, status: res.status }, 'in-dialog request challenged; sending it again with credentials');
            // Not `o.onResend?.(go(…))`: with no onResend that would skip the send itself.
            const again = go([r.header]);
            o.onResend?.(again);
            return;
          }
          if (o.stats !== undefined) o.stats.refused++;
          o.log.warn({ method: req.method, status: res.status, why: r.reason }, 'trunk authentication failed for an in-dialog request');
        }
        o.handler.onFinal(res);
      },
    });
    return req;
  };
  return go([]);
}

/** A route target's `"auth"` object, validated; errors name the key like the rest of routes.ts. */
export function parseTargetAuth(file: string, path: string, v: unknown): UacCredentials {
  const fail = (key: string, msg: string): never => {
    throw new TandemError('CONFIG', `${file}: ${path}${key === '' ? '' : `.${key}`}: ${msg}`);
  };
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail('', 'must be an object with "username" and "password" or "passwordFile"');
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['username', 'password', 'passwordFile', 'realm'].includes(k)) fail(k, 'unknown key (expected one of username, password, passwordFile, realm)');
  const text = (key: string): string | undefined => {
    const x = o[key];
    if (x === undefined) return undefined;
    if (typeof x !== 'string' || x === '') return fail(key, 'must be a non-empty string');
    if (/[\r\n\0]/.test(x)) return fail(key, 'must not contain CR, LF or NUL');
    return x;
  };
  const username = text('username') ?? fail('username', 'missing');
  const realm = text('realm');
  const pw = text('password');
  const pwFile = text('passwordFile');
  if (pw !== undefined && pwFile !== undefined) fail('passwordFile', 'give "password" or "passwordFile", not both');
  let password = pw;
  if (pwFile !== undefined) {
    // Relative to the routes file, so the pair can move together; the secret stays out of it.
    const where = resolve(dirname(file), pwFile);
    let content: string;
    try {
      content = readFileSync(where, 'utf8');
    } catch (err) {
      const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : String(err);
      return fail('passwordFile', `cannot read ${where}: ${code}`);
    }
    password = content.split(/\r?\n/, 1)[0];
    if (password === '') fail('passwordFile', `${where}: the first line (the password) is empty`);
  }
  if (password === undefined) return fail('password', 'missing (give "password" or "passwordFile")');
  return { username, password, ...(realm !== undefined ? { realm } : {}) };
}
