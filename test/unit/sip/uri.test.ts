import { describe, it, expect } from 'vitest';
import { parseUri, formatUri, uriEquals, uriParam, type Uri } from '../../../src/sip/uri.js';

function u(text: string): Uri {
  const r = parseUri(text);
  if (!r.ok) throw new Error(`${text}: ${r.reason}`);
  return r.uri;
}

describe('URI parsing (RFC 3261 §19.1, RFC 3966)', () => {
  it('reads every SIP URI part', () => {
    expect(u('sips:alice:secretword@atlanta.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent')).toEqual({
      type: 'sip', secure: true, user: 'alice', password: 'secretword', host: 'atlanta.com', port: 5061,
      params: [{ name: 'transport', value: 'tcp' }, { name: 'lr', value: null }],
      headers: [{ name: 'subject', value: 'project x' }, { name: 'priority', value: 'urgent' }],
    });
    expect(u('sip:[2001:db8::1]:5060')).toMatchObject({ host: '[2001:db8::1]', port: 5060 });
    expect(u('sip:192.0.2.4')).toMatchObject({ host: '192.0.2.4' });
    const tel = u('tel:+1-201-555-0123;phone-context=example.com');
    expect(tel).toEqual({ type: 'tel', number: '+1-201-555-0123', params: [{ name: 'phone-context', value: 'example.com' }] });
    expect(uriParam(tel.type === 'tel' ? tel : (undefined as never), 'Phone-Context')).toBe('example.com');
    expect(u('urn:service:sos')).toEqual({ type: 'other', scheme: 'urn', opaque: 'service:sos' });
  });

  it('rejects malformed URIs with a reason', () => {
    for (const [text, reason] of [
      ['sip:', 'invalid character in URI'],
      ['sip:a b@example.com', 'invalid character in URI'],
      ['sip:alice@', 'invalid host in URI'],
      ['sip:alice@256.1.1.1', 'invalid host in URI'],
      ['sip:alice@[::1', 'unterminated IPv6 reference in URI'],
      ['sip:alice@example.com:70000', 'invalid port in URI'],
      ['sip:al%4@example.com', 'invalid user part in URI'],
      ['sip:example.com;;lr', 'invalid URI parameter name'],
      ['sip:example.com?nohvalue', 'invalid header component in URI'],
      ['1sip:x', 'invalid URI scheme'],
      ['tel:xyz', 'invalid tel URI number'],
    ]) {
      const r = parseUri(text);
      expect(r.ok ? 'ok' : r.reason, text).toBe(reason);
    }
  });

  it('formats with minimal escaping, and format → parse is stable', () => {
    for (const text of ['sip:I%20have%20spaces@example.net', 'sip:%00@host5.example.com', 'sip:user;par=u%40example.net@example.com', 'sips:a:b@[2001:db8::1]:5061;maddr=x?h=%3Cv%3E', 'tel:+12015550123;ext=1']) {
      const once = u(text);
      expect(u(formatUri(once))).toEqual(once);
      expect(formatUri(u(formatUri(once)))).toBe(formatUri(once));
    }
    expect(formatUri(u('sip:cal%6Cer@host5.example.net;%6C%72'))).toBe('sip:caller@host5.example.net;lr');
  });

  it('compares per RFC 3261 §19.1.4', () => {
    const eq = (a: string, b: string): boolean => uriEquals(u(a), u(b));
    // §19.1.4 equivalent examples
    expect(eq('sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp')).toBe(true);
    expect(eq('sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5')).toBe(true);
    expect(eq('sip:carol@chicago.com;security=on', 'sip:carol@chicago.com;newparam=5')).toBe(true);
    expect(eq('sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com', 'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com')).toBe(true);
    expect(eq('sip:alice@atlanta.com?subject=project%20x&priority=urgent', 'sip:alice@atlanta.com?priority=urgent&subject=project%20x')).toBe(true);
    // §19.1.4 non-equivalent examples
    expect(eq('SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP')).toBe(false);
    expect(eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060')).toBe(false);
    expect(eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp')).toBe(false);
    expect(eq('sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp')).toBe(false);
    expect(eq('sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting')).toBe(false);
    expect(eq('sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4')).toBe(false);
    expect(eq('sip:carol@chicago.com;security=on', 'sip:carol@chicago.com;security=off')).toBe(false);
    expect(eq('sip:a@example.com', 'sips:a@example.com')).toBe(false);
    expect(eq('tel:+1-201-555-0123', 'tel:+1.201.555.0123')).toBe(true);
  });
});
