import { describe, it, expect } from 'vitest';
import { ERROR_CODES, TandemError, type ErrorCode } from '../../../src/common/errors.js';
import {
  LEG_B_TIMEOUT,
  LEG_B_TRANSPORT_ERROR,
  MEDIA_FAILURE_STATUS,
  REASON_MEDIA_TIMEOUT,
  REASON_WORKER_FAILED,
  isFailoverStatus,
  legBTransportErrorHeaders,
  mediaFailureResponse,
  mediaFailureStatus,
  requestFailureResponse,
} from '../../../src/b2bua/status-map.js';
import { ConnectionLostError } from '../../../src/sip/transport/stream-watch.js';

/** What a caller hears for each catalogue code when the media plane refuses its call. */
const EXPECTED: Record<ErrorCode, [number, string]> = {
  BAD_SDP: [488, 'Not Acceptable Here'],
  CODEC: [488, 'Not Acceptable Here'],
  LOAD_LIMIT: [503, 'Media Unavailable'],
  NO_PORTS: [503, 'Media Unavailable'],
  REMOTE: [503, 'Media Unavailable'],
  WORKER: [503, 'Media Unavailable'],
  BAD_REQUEST: [500, 'Media Plane Error'],
  UNKNOWN_CALL: [500, 'Media Plane Error'],
  CONFIG: [500, 'Media Plane Error'],
  TOO_LARGE: [500, 'Media Plane Error'],
  BENCODE: [500, 'Media Plane Error'],
  RTP_FORMAT: [500, 'Media Plane Error'],
  NG_TIMEOUT: [500, 'Media Plane Error'],
  NG_CLOSED: [500, 'Media Plane Error'],
  NG_SEND: [500, 'Media Plane Error'],
  NG_BAD_REPLY: [500, 'Media Plane Error'],
  DNS: [500, 'Media Plane Error'],
  CONNECTION_LOST: [500, 'Media Plane Error'],
  INTERNAL: [500, 'Media Plane Error'],
};

describe('SIP status map', () => {
  it('maps every catalogue code', () => {
    expect(Object.keys(MEDIA_FAILURE_STATUS).sort()).toEqual([...ERROR_CODES].sort());
  });

  it.each(ERROR_CODES.map((c) => [c, ...EXPECTED[c]] as const))('%s → %i %s', (code, status, reason) => {
    const err = new TandemError(code, 'refused');
    expect(mediaFailureStatus(err)).toEqual({ status, reason });
    const res = mediaFailureResponse(err);
    expect([res.status, res.reason]).toEqual([status, reason]);
    // Only a 488 says why, in a Warning (RFC 3261 §20.43, 305: incompatible media format).
    expect(res.headers).toEqual(status === 488 ? [{ name: 'Warning', value: '305 tandem "refused"' }] : []);
  });

  it('treats anything that is not a TandemError as our own fault (500)', () => {
    expect(mediaFailureStatus(new Error('boom'))).toEqual({ status: 500, reason: 'Media Plane Error' });
    expect(mediaFailureStatus('a string')).toEqual({ status: 500, reason: 'Media Plane Error' });
  });

  it('keeps a Warning text from breaking the header', () => {
    const res = mediaFailureResponse(new TandemError('BAD_SDP', 'bad "c=" line\r\nX-Injected: 1'));
    expect(res.headers[0].value).toBe('305 tandem "bad \'c=\' line\'\'X-Injected: 1"');
  });

  it('answers a request whose handling threw: 488 with a Warning for an SDP fault, else 500', () => {
    expect(requestFailureResponse(new TandemError('BAD_SDP', 'no m= line'))).toEqual({ status: 488, reason: 'Not Acceptable Here', headers: [{ name: 'Warning', value: '305 tandem "no m= line"' }] });
    expect(requestFailureResponse(new TandemError('CODEC', 'no codec')).status).toBe(488);
    for (const code of ERROR_CODES.filter((c) => c !== 'BAD_SDP' && c !== 'CODEC'))
      expect(requestFailureResponse(new TandemError(code, 'x'))).toEqual({ status: 500, reason: 'Server Internal Error', headers: [] });
    expect(requestFailureResponse(new TypeError('undefined is not a function')).status).toBe(500);
  });

  it('turns leg B transaction failures into 408 and 503 (RFC 3261 §8.1.3.1)', () => {
    expect(LEG_B_TIMEOUT).toEqual({ status: 408, reason: 'Request Timeout' });
    expect(LEG_B_TRANSPORT_ERROR).toEqual({ status: 503, reason: 'Service Unavailable' });
  });

  it('says in a Warning, without the address, that the next hop closed its connection; other transport errors add nothing', () => {
    const lost = new ConnectionLostError({ protocol: 'tcp', address: '192.0.2.9', port: 5060 });
    expect(legBTransportErrorHeaders(lost)).toEqual([{ name: 'Warning', value: '399 tandem "next hop closed the connection before a final response"' }]);
    expect(legBTransportErrorHeaders(new Error('tcp connect to 192.0.2.9:5060 failed: ECONNREFUSED'))).toEqual([]);
  });

  it('fails over on 408 and 5xx only', () => {
    const failover = [300, 400, 404, 407, 408, 480, 486, 487, 488, 499, 500, 502, 503, 599, 600, 603].filter(isFailoverStatus);
    expect(failover).toEqual([408, 500, 502, 503, 599]);
  });

  it('says in the BYE why the media plane ended the call (RFC 3326 Reason)', () => {
    expect(REASON_MEDIA_TIMEOUT).toBe('SIP;cause=408;text="media timeout"');
    expect(REASON_WORKER_FAILED).toBe('SIP;cause=500;text="media worker failed"');
  });
});
