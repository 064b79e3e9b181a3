import { describe, it, expect } from 'vitest';
import { checkAddress, checkPorts, unicastProblem } from '../../../../src/media/session/endpoint.js';

describe('SDP endpoint checks', () => {
  it('accepts unicast and unspecified addresses, refuses multicast, broadcast and names', () => {
    for (const ok of ['127.0.0.1', '10.1.2.3', '0.0.0.0', '::1', '2001:db8::1', '::']) expect(unicastProblem(ok)).toBeUndefined();
    expect(unicastProblem('224.0.0.1')).toMatch(/multicast/);
    expect(unicastProblem('239.255.255.250')).toMatch(/multicast/);
    expect(unicastProblem('255.255.255.255')).toMatch(/broadcast/);
    expect(unicastProblem('ff02::1')).toMatch(/multicast/);
    expect(unicastProblem('pbx.example.com')).toMatch(/not an IP/);
    expect(() => checkAddress('224.0.0.1', 'connection address', 2, 'c1')).toThrow(/m= line 2: connection address "224.0.0.1" is a multicast address/);
  });

  it('has no RTCP port for m= 65535 without a=rtcp, and ignores a=rtcp outside 1..65535', () => {
    expect(checkPorts(65535, undefined, 0, 'c')).toEqual({ port: 65535, rtcpPort: undefined, ignored: [] });
    expect(checkPorts(65534, undefined, 0, 'c').rtcpPort).toBe(65535);
    expect(checkPorts(65535, 4000, 0, 'c').rtcpPort).toBe(4000);
    for (const bad of [0, 70000, 65536, -1]) {
      const r = checkPorts(5000, bad, 1, 'c');
      expect(r.rtcpPort).toBe(5001);
      expect(r.ignored).toEqual([`m= line 1: a=rtcp port ${bad} is outside 1..65535 and was ignored`]);
    }
    expect(checkPorts(0, undefined, 0, 'c').rtcpPort).toBeUndefined();
    expect(() => checkPorts(70000, undefined, 0, 'c')).toThrow(/outside 0\.\.65535/);
  });
});
