import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { StreamFramer, datagramTooLarge } from '../../../../src/sip/transport/stream-framer.js';
import { DEFAULT_FD_LIMIT, effectiveConnectionCap, readFdLimit } from '../../../../src/sip/transport/connection-limits.js';
import { parseArgs, helpText } from '../../../../src/config/load.js';

function options(n: number, body = '', extra = ''): string {
  return `OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKf${n}\r\nFrom: <sip:a@127.0.0.1>;tag=${n}\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: framer-${n}\r\nCSeq: ${n} OPTIONS\r\n${extra}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

describe('StreamFramer (incremental Content-Length framing)', () => {
  it('a message pushed one byte at a time comes out whole, after its last byte, parsed once', () => {
    const f = new StreamFramer(64 * 1024);
    const text = Buffer.from('\r\n\r\n' + options(1, 'hello\r\nworld') + options(2));
    const out: string[] = [];
    let firstDoneAt = -1;
    for (let i = 0; i < text.length; i++) {
      const r = f.push(text.subarray(i, i + 1));
      expect(r.fatal).toBeUndefined();
      for (const m of r.results) {
        if (!m.ok) throw m.error;
        out.push(m.message.body.toString());
        if (firstDoneAt < 0) firstDoneAt = i;
      }
    }
    expect(out).toEqual(['hello\r\nworld', '']);
    expect(firstDoneAt).toBe(4 + Buffer.byteLength(options(1, 'hello\r\nworld')) - 1);
    // Two messages, two parses: not one per byte.
    expect(f.parses).toBe(2);
    expect(f.inProgress).toBe(false);
  });

  it('keep-alive CRLFs are not a message in progress; a first byte of a message is', () => {
    const f = new StreamFramer(1000);
    f.push(Buffer.from('\r\n\r\n'));
    expect(f.inProgress).toBe(false);
    f.push(Buffer.from('O'));
    expect(f.inProgress).toBe(true);
  });

  it('a malformed message framed by Content-Length is reported and the stream goes on', () => {
    const f = new StreamFramer(64 * 1024);
    const r = f.push(Buffer.from(options(3).replace('CSeq: 3 OPTIONS', 'CSeq: 3 INVITE') + options(4)));
    expect(r.fatal).toBeUndefined();
    expect(r.results.map((x) => x.ok)).toEqual([false, true]);
  });

  it('a bad Content-Length is fatal, with what a 400 needs', () => {
    const f = new StreamFramer(64 * 1024);
    const r = f.push(Buffer.from(options(5).replace('Content-Length: 0', 'Content-Length: banana')));
    expect(r.fatal?.status).toBe(400);
    expect(r.fatal?.response?.callId).toBe('framer-5');
  });

  it('Content-Length over the limit: 513 with what a response needs, before the body is read', () => {
    const f = new StreamFramer(1000);
    const r = f.push(Buffer.from(options(6).replace('Content-Length: 0', 'Content-Length: 5000')));
    expect(r.fatal?.status).toBe(513);
    expect(r.fatal?.response?.callId).toBe('framer-6');
  });

  it('a header section over the limit: 513 once the limit is passed, answerable when the mandatory headers came first', () => {
    const f = new StreamFramer(1000);
    const head = options(7).replace(/Content-Length: 0\r\n\r\n$/, '');
    let fatal;
    for (let i = 0; i < 100 && fatal === undefined; i++) fatal = f.push(Buffer.from(i === 0 ? head : `X-Filler-${i}: ${'y'.repeat(40)}\r\n`)).fatal;
    expect(fatal?.status).toBe(513);
    expect(fatal?.response?.callId).toBe('framer-7');
    // Garbage without headers gets a 513 that cannot be answered.
    const g = new StreamFramer(100);
    const r = g.push(Buffer.alloc(200, 0x41));
    expect(r.fatal?.status).toBe(513);
    expect(r.fatal?.response).toBeUndefined();
  });

  it('an oversized datagram is a 513 with the context its headers give', () => {
    const e = datagramTooLarge(Buffer.from(options(8, 'z'.repeat(2000))));
    expect(e.status).toBe(513);
    expect(e.response?.callId).toBe('framer-8');
  });
});

describe('descriptor budget', () => {
  it('reads the soft open-files limit from /proc/self/limits, else assumes the default', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-limits-'));
    const file = join(dir, 'limits');
    writeFileSync(file, 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            4096                 524288               files\n');
    expect(readFdLimit(file)).toEqual({ limit: 4096, source: file });
    writeFileSync(file, 'Max open files            unlimited            unlimited            files\n');
    expect(readFdLimit(file).limit).toBe(Number.POSITIVE_INFINITY);
    writeFileSync(file, 'nothing useful\n');
    expect(readFdLimit(file)).toEqual({ limit: DEFAULT_FD_LIMIT, source: 'default' });
    expect(readFdLimit(join(dir, 'absent')).source).toBe('default');
  });

  it('keeps the connection cap at a quarter of the limit at most', () => {
    expect(effectiveConnectionCap(1024, 20_000)).toBe(1024);
    expect(effectiveConnectionCap(1024, 1024)).toBe(256);
    expect(effectiveConnectionCap(1024, 2)).toBe(1);
    expect(effectiveConnectionCap(1024, Number.POSITIVE_INFINITY)).toBe(1024);
  });
});

describe('connection options', () => {
  it('parse, default, appear in --help, and a bad value names the option', () => {
    const r = parseArgs(['--sip-max-connections=10', '--sip-max-connections-per-source=2', '--sip-idle-timeout=1000', '--sip-message-timeout=500', '--tls-handshake-timeout=700', '--ws-ping-interval=900', '--tls-ca=/x.pem']);
    if (r.kind !== 'run') throw new Error('expected run');
    expect(r.config).toMatchObject({ sipMaxConnections: 10, sipMaxConnectionsPerSource: 2, sipIdleTimeout: 1000, sipMessageTimeout: 500, tlsHandshakeTimeout: 700, wsPingInterval: 900, tlsCa: '/x.pem' });
    const d = parseArgs([]);
    if (d.kind !== 'run') throw new Error('expected run');
    expect(d.config).toMatchObject({ sipMaxConnections: 1024, sipMaxConnectionsPerSource: 32, sipIdleTimeout: 600_000, sipMessageTimeout: 10_000, tlsHandshakeTimeout: 5_000, wsPingInterval: 30_000 });
    expect(d.config.tlsCa).toBeUndefined();
    for (const o of ['sip-max-connections', 'sip-max-connections-per-source', 'sip-idle-timeout', 'sip-message-timeout', 'tls-handshake-timeout', 'ws-ping-interval', 'tls-ca']) {
      expect(helpText()).toContain(`--${o}`);
      expect(() => parseArgs([`--${o}=`])).toThrow(new RegExp(`--${o}`));
    }
    expect(() => parseArgs(['--sip-max-connections=0'])).toThrow(/--sip-max-connections/);
    expect(() => parseArgs(['--sip-message-timeout=ten'])).toThrow(/--sip-message-timeout/);
  });
});
