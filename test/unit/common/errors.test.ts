import { describe, it, expect } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ERROR_CODES, TandemError, errorCode, isErrorCode, isTandemError } from '../../../src/common/errors.js';
import { createLogger } from '../../../src/common/log.js';
import { SipParseError } from '../../../src/sip/message.js';
import { NgWireError } from '../../../src/control/ng-wire.js';
import { NgClientError } from '../../../src/control/ng-client.js';
import { BencodeError } from '../../../src/control/bencode.js';
import { RtpFormatError } from '../../../src/media/rtp/packet.js';
import { WorkerRequestError, workerErrorCode } from '../../../src/media/pool/channel.js';
import { DnsFailure } from '../../../src/sip/dns.js';
import { AdminRequestError } from '../../../src/ops/admin-http.js';
import { ConnectionLostError } from '../../../src/sip/transport/stream-watch.js';

const SRC = resolve(__dirname, '../../../src');

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

/** One instance of every error class under src/, built the way its module builds it. */
const INSTANCES: Record<string, Error> = {
  TandemError: new TandemError('CONFIG', 'bad option'),
  SipParseError: new SipParseError('invalid Content-Length', { header: 'Content-Length' }),
  NgWireError: new NgWireError('no cookie'),
  NgClientError: new NgClientError('NG_TIMEOUT', 'no reply', 'abc'),
  BencodeError: new BencodeError('unexpected end', 7),
  RtpFormatError: new RtpFormatError('version 1, not 2'),
  WorkerRequestError: new WorkerRequestError('bind EADDRINUSE', 'EADDRINUSE'),
  DnsFailure: new DnsFailure('trunk.example.com', 'ENOTFOUND'),
  AdminRequestError: new AdminRequestError(413, 'request body over 16384 bytes'),
  ConnectionLostError: new ConnectionLostError({ protocol: 'tcp', address: '127.0.0.1', port: 5060 }),
};

describe('error catalogue', () => {
  it('has each code once, and isErrorCode accepts exactly the catalogue', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    for (const c of ERROR_CODES) expect(isErrorCode(c)).toBe(true);
    for (const v of ['', 'bad_request', 'EADDRINUSE', 'SIP_PARSE', 42, undefined, null]) expect(isErrorCode(v)).toBe(false);
  });

  it('knows every error class declared under src/ (a new one must be listed here, with a code)', () => {
    const declared = sourceFiles(SRC).flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/\bclass\s+(\w+)\s+extends\s+(\w+)/g)].filter((m) => /Error$/.test(m[2])).map((m) => m[1]));
    expect(declared.sort()).toEqual(Object.keys(INSTANCES).sort());
  });

  it.each(Object.entries(INSTANCES))('%s is a TandemError whose code is in the catalogue and whose name is its class', (name, e) => {
    expect(isTandemError(e)).toBe(true);
    expect(isErrorCode((e as TandemError).code)).toBe(true);
    expect(e.name).toBe(name);
    expect(e.stack).toContain(name);
  });

  it('gives each class the code its boundary maps', () => {
    expect((INSTANCES.SipParseError as TandemError).code).toBe('BAD_REQUEST');
    expect((INSTANCES.NgWireError as TandemError).code).toBe('BAD_REQUEST');
    expect((INSTANCES.NgClientError as TandemError).code).toBe('NG_TIMEOUT');
    expect((INSTANCES.BencodeError as TandemError).code).toBe('BENCODE');
    expect((INSTANCES.RtpFormatError as TandemError).code).toBe('RTP_FORMAT');
    expect((INSTANCES.ConnectionLostError as TandemError).code).toBe('CONNECTION_LOST');
    expect(INSTANCES.ConnectionLostError.message).toBe('tcp:127.0.0.1:5060 connection closed by the peer before the final response');
  });

  it('keeps the messages the classes had before they joined the catalogue', () => {
    expect(INSTANCES.NgClientError.message).toBe('no reply [cookie:abc]');
    expect((INSTANCES.NgClientError as NgClientError).cookie).toBe('abc');
    expect(INSTANCES.BencodeError.message).toBe('bencode: unexpected end at byte 7');
    expect((INSTANCES.BencodeError as BencodeError).offset).toBe(7);
    expect(INSTANCES.RtpFormatError.message).toBe('version 1, not 2');
    expect(new TandemError('UNKNOWN_CALL', 'no such call', { 'call-id': 'c1' }).message).toBe('no such call [call-id:c1]');
  });

  it('errorCode: a TandemError its own code, anything else INTERNAL', () => {
    expect(errorCode(new BencodeError('x', 0))).toBe('BENCODE');
    expect(errorCode(new TypeError('x'))).toBe('INTERNAL');
    expect(errorCode('a string')).toBe('INTERNAL');
  });
});

describe('worker request errors at the pool boundary', () => {
  it('maps the errno names of ports the OS will not give to NO_PORTS and keeps the errno as osCode', () => {
    for (const os of ['EADDRINUSE', 'EACCES']) {
      const e = new WorkerRequestError(`bind ${os}`, os);
      expect(e.code).toBe('NO_PORTS');
      expect(e.osCode).toBe(os);
      expect(e.message).toBe(`bind ${os}`);
    }
  });

  it('makes anything else the worker reports WORKER, its own code kept as osCode', () => {
    expect(workerErrorCode(undefined)).toBe('WORKER');
    expect(workerErrorCode('ENOMEM')).toBe('WORKER');
    const e = new WorkerRequestError('Opus packet rejected', 'CODEC');
    expect(e.code).toBe('WORKER');
    expect(e.osCode).toBe('CODEC');
  });
});

describe('errors in logs', () => {
  function memoryLogger(): { log: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
    const out: string[] = [];
    const log = createLogger({ level: 'info', destination: { write: (s: string) => void out.push(s) } });
    return { log, lines: () => out.map((s) => JSON.parse(s) as Record<string, unknown>) };
  }

  it('writes a TandemError logged as err with its code, message, context and stack', () => {
    const { log, lines } = memoryLogger();
    const err = new TandemError('NO_PORTS', 'could not bind media ports', { 'call-id': 'c1' });
    log.child({ callId: 'c1' }).warn({ err }, 'offer failed');
    const [line] = lines();
    expect(line.callId).toBe('c1');
    const e = line.err as Record<string, unknown>;
    expect(e.code).toBe('NO_PORTS');
    expect(e.message).toBe('could not bind media ports [call-id:c1]');
    expect(e.type).toBe('TandemError');
    expect(e.context).toEqual({ 'call-id': 'c1' });
    expect(String(e.stack)).toMatch(/^TandemError: could not bind media ports/);
    expect(String(e.stack)).toContain('errors.test.ts');
  });

  it('writes the cause a wrapping error keeps, with its own code', () => {
    const { log, lines } = memoryLogger();
    const cause = new NgClientError('NG_TIMEOUT', 'no reply to offer', 'k1');
    log.warn({ err: new TandemError('REMOTE', 'media server did not answer offer', {}, { cause }) }, 'remote media failed');
    const e = lines()[0].err as Record<string, unknown>;
    expect(e.code).toBe('REMOTE');
    expect(e.cause).toMatchObject({ type: 'NgClientError', code: 'NG_TIMEOUT', cookie: 'k1' });
  });
});
