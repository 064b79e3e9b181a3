import { describe, it, expect } from 'vitest';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { parseArgs, helpText } from '../../../src/config/load.js';
import { logIgnoredOptions } from '../../../src/config/config-file.js';

const DEBIAN = resolve(__dirname, '../../fixtures/rtpengine/debian-rtpengine.conf');
const dir = mkdtempSync(join(tmpdir(), 'tandem-inifile-'));
let n = 0;
const file = (text: string): string => {
  const p = join(dir, `f${++n}.conf`);
  writeFileSync(p, text);
  return p;
};
const run = (argv: string[]) => {
  const r = parseArgs(argv);
  if (r.kind !== 'run') throw new Error('expected run');
  return r;
};

describe("rtpengine's config file: Debian's rtpengine.conf as it ships", () => {
  it('refuses `interface = any` by file and line, saying what to write instead', () => {
    expect(() => parseArgs([`--config-file=${DEBIAN}`])).toThrow(/debian-rtpengine\.conf:15: interface: "any" \(rtpengine: every local address\) is not supported/);
  });

  it('applies what Tandem has, the command line winning, and lists the rest as ignored', () => {
    const r = run([`--config-file=${DEBIAN}`, '--interface=127.0.0.1']);
    expect(r.config).toMatchObject({ interface: '127.0.0.1', listenNg: { address: '127.0.0.1', port: 2223 }, timeout: 60, portMin: 30000, portMax: 40000, logLevel: 'info' });
    // rtpengine's listen-http (its HTTP listener with /metrics) is Tandem's admin listener: applied, not ignored.
    expect(r.config.listenHttp).toEqual({ address: '127.0.0.1', port: 2225 });
    expect(r.config.listenTcpNg).toBeUndefined();
    expect(r.ignored?.section).toBe('rtpengine');
    // recording-dir/-method are Tandem's too: applied, rtpengine's `proc` (its kernel spool for the
    // rtpengine-recording daemon) read as pcap, which Tandem writes itself.
    expect(r.config).toMatchObject({ recordingDir: '/var/spool/rtpengine', recordingMethod: 'pcap' });
    const keys = r.ignored?.rtpengineOnly.map((x) => /^(\S+) \(.*debian-rtpengine\.conf:\d+\)$/.exec(x)?.[1]);
    expect(keys).toEqual(expect.arrayContaining(['table', 'listen-cli', 'silent-timeout', 'tos']));
    expect(keys?.every((k) => k !== undefined && ['table', 'listen-cli', 'silent-timeout', 'tos'].includes(k))).toBe(true);
    expect(r.ignored?.unknown).toEqual([]);
    // The [rtpengine-testing] section is not read unless chosen.
    expect(r.ignored?.rtpengineOnly.join(' ')).not.toMatch(/foreground/);
  });

  it('reads another section with --config-section, numeric log level included', () => {
    const r = run([`--config-file=${DEBIAN}`, '--config-section=rtpengine-testing']);
    expect(r.config).toMatchObject({ interface: '10.15.20.121', listenNg: { address: '127.0.0.1', port: 2223 }, logLevel: 'debug' });
    expect(r.ignored?.rtpengineOnly.map((x) => x.split(' ')[0])).toEqual(['table', 'foreground', 'log-stderr']);
  });
});

describe("rtpengine's config file: syntax and precedence", () => {
  it('reads [tandem] after the chosen section (it wins), skips other sections, and the command line wins over both', () => {
    const f = file('[other]\nport-min = 1\n[rtpengine]\nport-min = 31000\nport-max = 31999\nmax-sessions = -1\n[tandem]\nport-max = 32999\n');
    expect(run([`--config-file=${f}`]).config).toMatchObject({ portMin: 31000, portMax: 32999, maxSessions: 0 });
    expect(run([`--config-file=${f}`, '--port-max=33999']).config).toMatchObject({ portMin: 31000, portMax: 33999 });
    expect(run([`--config=${f}`]).config.portMax).toBe(32999); // Tandem's older spelling
    // A list option in [tandem] replaces the other section's rather than adding to it.
    const g = file('[rtpengine]\ninterface = any\n[tandem]\ninterface = priv/127.0.0.2;pub/127.0.0.3\n');
    expect(run([`--config-file=${g}`]).config.interfaces?.map((i) => i.address)).toEqual(['127.0.0.2', '127.0.0.3']);
  });

  it("takes rtpengine's semicolon lists, escapes, comments, underscores, CRLF and a byte-order mark", () => {
    const f = file('\uFEFF# comment\n; also a comment\n[rtpengine]\n  interface = priv/127.0.0.2;pub/127.0.0.3!192.0.2.9\nlisten_tcp_ng = 2224\n[tandem]\nserver-header = Tandem\\sPBX\\\\1\r\n');
    const c = run([`--config-file=${f}`]).config;
    expect(c.interfaces?.map((i) => i.name)).toEqual(['priv', 'pub']);
    expect(c.listenTcpNg).toEqual({ address: '127.0.0.1', port: 2224 });
    expect(c.serverHeader).toBe('Tandem PBX\\1');
  });

  it('ignores keys neither knows in [rtpengine] (reported apart), refuses them in [tandem]', () => {
    const f = file('[rtpengine]\nno-fallback = true\nlog-level-core = 7\nfrobnicate = 3\n');
    const r = run([`--config-file=${f}`]);
    expect(r.ignored?.rtpengineOnly.map((x) => x.split(' ')[0])).toEqual(['no-fallback', 'log-level-core']);
    expect(r.ignored?.unknown).toEqual([`frobnicate (${f}:4)`]);
    expect(() => parseArgs([`--config-file=${file('[tandem]\nfrobnicate = 3\n')}`])).toThrow(/f\d+\.conf:2: frobnicate: unknown option/);
  });

  it('names file and line for every malformed line', () => {
    const bad: [string, RegExp][] = [
      ['[rtpengine]\nport-min 30000\n', /:2: expected key = value/],
      ['[rtpengine\nport-min = 30000\n', /:1: "\[rtpengine" is not a \[section\] header/],
      ['port-min = 30000\n[rtpengine]\n', /:1: port-min: a key before any \[section\]/],
      ['[rtpengine]\n = 3\n', /:2: "" is not an option name/],
      ['[rtpengine]\nport min = 3\n', /:2: "port min" is not an option name/],
      ['[tandem]\nserver-header = a\\qb\n', /:2: server-header: invalid escape "\\q"/],
      ['[rtpengine]\nconfig-file = /etc/x\n', /:2: config-file: only on the command line/],
      ['[rtpengine]\n\n\nport-min = lots\n', /:4: port-min: "lots" is not a whole number/],
      ['[rtpengine]\nlog-level = 9\n', /:2: log-level: "9" is not one of/],
      ['[rtpengine]\ninterface = pub/any\n', /:2: interface: "any"/],
      [`[rtpengine]\n${'\u0000\u0001'.repeat(50)}\n`, /:2: expected key = value/],
    ];
    for (const [text, why] of bad) expect(() => parseArgs([`--config-file=${file(text)}`]), text).toThrow(why);
  });

  it('refuses a file without the section, a section without a file, and reads no file for "none"', () => {
    expect(() => parseArgs([`--config-file=${file('[something]\nx = 1\n')}`])).toThrow(/has no \[rtpengine\] or \[tandem\] section/);
    expect(() => parseArgs([`--config-file=${file('[rtpengine]\n')}`, '--config-section=nope'])).toThrow(/has no \[nope\] or \[tandem\] section/);
    expect(() => parseArgs(['--config-section=rtpengine'])).toThrow(/--config-section: only with --config-file/);
    expect(() => parseArgs([`--config-file=${DEBIAN}`, '--config-section=a b'])).toThrow(/--config-section/);
    expect(run([`--config-file=${file('[rtpengine]\n')}`]).config.portMin).toBe(30000);
    expect(run(['--config-file=none']).ignored).toBeUndefined();
    expect(() => parseArgs([`--config-file=${join(dir, 'missing.conf')}`])).toThrow(/--config-file: cannot read/);
    for (const o of ['--config-file', '--config-section']) expect(helpText()).toContain(o);
  });
});

describe("rtpengine's numeric --log-level", () => {
  it('maps syslog 0–7 to pino levels beside the names', () => {
    const level = (v: string): string => run([`--log-level=${v}`]).config.logLevel;
    expect(['0', '1', '2', '3', '4', '5', '6', '7'].map(level)).toEqual(['fatal', 'fatal', 'fatal', 'error', 'warn', 'info', 'info', 'debug']);
    expect(level('trace')).toBe('trace');
    for (const bad of ['8', '-1', '06', 'loud']) expect(() => parseArgs([`--log-level=${bad}`])).toThrow(/--log-level: .* syslog level 0–7/);
  });
});

describe('the ignored options, logged once', () => {
  it('is one warn line naming the file and each key with its line; nothing when all applied', () => {
    const lines: string[] = [];
    const log = pino({ level: 'info' }, new Writable({ write: (chunk: Buffer, _e, cb) => (lines.push(chunk.toString()), cb()) }));
    logIgnoredOptions(log, run([`--config-file=${DEBIAN}`, '--interface=127.0.0.1']).ignored);
    logIgnoredOptions(log, run([`--config-file=${file('[rtpengine]\nport-min = 31000\n')}`]).ignored);
    logIgnoredOptions(log, undefined);
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]) as { level: number; msg: string; file: string; rtpengineOnly: string[] };
    expect(line).toMatchObject({ level: 40, msg: 'config file: options Tandem does not have are ignored', file: DEBIAN });
    expect(line.rtpengineOnly).toContain(`table (${DEBIAN}:3)`);
  });
});
