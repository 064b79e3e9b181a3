import { describe, it, expect } from 'vitest';
import { MAX_ACL_FILE_ENTRIES, parseAclFile } from '../../../src/edge/acl-file.js';
import { AccessControl } from '../../../src/edge/acl.js';

const local = { protocol: 'udp' as const, address: '127.0.0.1', port: 5060 };

describe('--sip-acl-file', () => {
  it('reads allow/deny lines, comments and blank lines, IPv4 and IPv6', () => {
    expect(parseAclFile('# office\nallow 10.0.0.0/8\n\n  deny 10.6.6.6  \r\nDENY 2001:db8::/32\n', 'acl')).toEqual({ allow: ['10.0.0.0/8'], deny: ['10.6.6.6', '2001:db8::/32'] });
    expect(parseAclFile('', 'acl')).toEqual({ allow: [], deny: [] });
  });

  it.each([
    ['permit 10.0.0.0/8', 'acl:2: expected "allow IP/CIDR" or "deny IP/CIDR"'],
    ['allow', 'acl:2: expected'],
    ['allow 10.0.0.0/8 10.1.0.0/16', 'acl:2: expected'],
    ['deny 10.0.0.0/33', 'acl:2: "10.0.0.0/33": prefix /33 is longer than 32'],
    ['allow example.com', 'acl:2: "example.com" is not an IP address or CIDR'],
    ['allow 300.1.1.1', 'acl:2: "300.1.1.1" is not an IP address or CIDR'],
    ['deny \u0000', 'acl:2: "\u0000" is not an IP address or CIDR'],
    ['allow\t\u0007bell', 'acl:2: "\u0007bell" is not an IP address or CIDR'],
    ['\u001b[31mallow', 'acl:2: expected "allow IP/CIDR" or "deny IP/CIDR", got "?[31mallow"'],
  ])('a malformed line (%j) is an error naming file:line', (line, message) => {
    expect(() => parseAclFile(`allow 127.0.0.1\n${line}\n`, 'acl')).toThrow(message);
  });

  it(`more than ${MAX_ACL_FILE_ENTRIES} entries is an error naming the first line past the limit (each one costs every packet a check)`, () => {
    const lines = Array.from({ length: MAX_ACL_FILE_ENTRIES }, (_, i) => `deny 10.${i >> 8}.${i & 255}.0/24`);
    expect(parseAclFile(lines.join('\n'), 'acl').deny).toHaveLength(MAX_ACL_FILE_ENTRIES);
    expect(() => parseAclFile(`# big\n${lines.join('\n')}\nallow 127.0.0.1\n`, 'acl')).toThrow(`acl:${MAX_ACL_FILE_ENTRIES + 2}: more than ${MAX_ACL_FILE_ENTRIES} entries`);
  });

  it('setGlobal: the next packet is judged by the new lists; the denied counter goes on', () => {
    const acl = new AccessControl({ deny: ['127.0.0.2'] });
    expect(acl.admit('127.0.0.2', local)).toBe(false);
    acl.setGlobal(undefined, ['127.0.0.3']);
    expect(acl.admit('127.0.0.2', local)).toBe(true);
    expect(acl.admit('127.0.0.3', local)).toBe(false);
    acl.setGlobal(['127.0.0.2'], undefined);
    expect(acl.admit('127.0.0.4', local)).toBe(false);
    expect(acl.counters.denied).toBe(3);
  });
});
