import { describe, expect, it } from 'vitest';
import { malformedResponse } from '../../../../src/sip/transport/malformed-response.js';
import { serializeSipMessage } from '../../../../src/sip/serialize.js';

const ctx = { method: 'INVITE', uri: 'sip:b@x', via: ['SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1', 'SIP/2.0/UDP 127.0.0.2;branch=z9hG4bK2'], from: '<sip:a@x>;tag=1', to: '<sip:b@x>', callId: 'c1', cseq: '1 INVITE' };

describe('the response to a request the parser refused', () => {
  it('echoes every Via, From, Call-ID and CSeq, and gives a To without a tag a fresh one', () => {
    const a = malformedResponse(400, 'Bad Request', ctx);
    const b = malformedResponse(400, 'Bad Request', ctx);
    const to = (r: typeof a): string => r.headers.find((h) => h.name === 'To')?.value ?? '';
    expect(to(a)).toMatch(/^<sip:b@x>;tag=[0-9a-f]{12}$/);
    expect(to(a)).not.toBe(to(b));
    expect(a.headers.filter((h) => h.name === 'Via').map((h) => h.value)).toEqual(ctx.via);
    expect(a.headers.find((h) => h.name === 'CSeq')?.value).toBe('1 INVITE');
  });

  it('keeps a To tag that is there, and a fault text cannot break the status line', () => {
    const r = malformedResponse(513, 'Message Too Large\r\nX-Injected: 1', { ...ctx, to: '<sip:b@x>;tag=abc' });
    expect(r.headers.find((h) => h.name === 'To')?.value).toBe('<sip:b@x>;tag=abc');
    const text = serializeSipMessage(r).toString();
    expect(text.split('\r\n')[0]).toBe('SIP/2.0 513 Message Too Large  X-Injected: 1');
    expect(text).not.toMatch(/^X-Injected/m);
  });
});
