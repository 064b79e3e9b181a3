import { describe, it, expect } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from '../../../src/config/load.js';
import { parseInterface, primaryInterface } from '../../../src/config/interface-options.js';

function run(argv: string[]) {
  const r = parseArgs(argv);
  if (r.kind !== 'run') throw new Error('expected run');
  return r.config;
}

describe('--interface=[NAME/]IP[!ADVERTISED]', () => {
  it('keeps the plain form: bind and advertise the same address', () => {
    const c = run(['--interface=127.0.0.2']);
    expect(c.interface).toBe('127.0.0.2');
    expect(primaryInterface(c)).toEqual({ name: 'default', address: '127.0.0.2' });
  });

  it('defaults to one unnamed loopback interface', () => {
    expect(primaryInterface(run([]))).toEqual({ name: 'default', address: '127.0.0.1' });
  });

  it('binds IP and advertises the address after !', () => {
    const c = run(['--interface=10.0.0.5!203.0.113.7']);
    expect(c.interface).toBe('10.0.0.5');
    expect(primaryInterface(c)).toEqual({ name: 'default', address: '10.0.0.5', advertise: '203.0.113.7' });
  });

  it('takes a name and IPv6', () => {
    expect(parseInterface('pub/2001:db8::1!2001:db8::2', '--interface')).toEqual({ name: 'pub', address: '2001:db8::1', advertise: '2001:db8::2' });
  });

  it('names the option in every error', () => {
    for (const bad of ['nowhere', '127.0.0.1!', '127.0.0.1!example.com', 'a b/127.0.0.1', '/127.0.0.1', '127.0.0.1!2001:db8::1', 'x/y/127.0.0.1', '']) {
      expect(() => parseArgs([`--interface=${bad}`]), bad).toThrow(/--interface/);
    }
  });

  it('adds up several interfaces, given again or as a list; the first is the default', () => {
    const c = run(['--interface=priv/127.0.0.1', '--interface=pub/127.0.0.2!192.0.2.20']);
    expect(c.interfaces).toEqual([{ name: 'priv', address: '127.0.0.1' }, { name: 'pub', address: '127.0.0.2', advertise: '192.0.2.20' }]);
    expect(c.interface).toBe('127.0.0.1');
    expect(run(['--interface=priv/127.0.0.1;pub/127.0.0.2,dmz/127.0.0.3']).interfaces?.map((i) => i.name)).toEqual(['priv', 'pub', 'dmz']);
  });

  it('lets the command line replace the config file\'s interfaces instead of adding to them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tandem-if-'));
    const file = join(dir, 't.conf');
    writeFileSync(file, '[rtpengine]\ninterface = priv/10.0.0.5\ninterface = pub/10.1.0.5!203.0.113.7\n');
    expect(run([`--config=${file}`]).interfaces?.map((i) => i.name)).toEqual(['priv', 'pub']);
    expect(run([`--config=${file}`, '--interface=127.0.0.2']).interfaces).toEqual([{ name: 'default', address: '127.0.0.2' }]);
  });

  it('refuses a name given twice (an unnamed one is "default")', () => {
    expect(() => parseArgs(['--interface=pub/127.0.0.1', '--interface=pub/127.0.0.2'])).toThrow(/--interface: interface name "pub" is given twice/);
    expect(() => parseArgs(['--interface=127.0.0.1,127.0.0.2'])).toThrow(/"default" is given twice/);
  });
});
