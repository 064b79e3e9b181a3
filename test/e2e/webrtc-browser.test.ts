import { it, expect } from 'vitest';
import { describeWithPeers, itWithPeers } from '../helpers/peers.js';
import { runScenarioInNetns } from './browser/netns.js';
import type { NgCallResult } from './browser/ng-call.scenario.js';
import type { SipCallResult } from './browser/sip-call.scenario.js';
import type { SipRegisteredResult, SipRegisterRefused } from './browser/sip-registered.scenario.js';

/**
 * A real browser (Debian's headless Chromium) on one side, a plain G.711 endpoint on the other.
 * Each scenario runs in its own network namespace with only `lo` (see browser/netns.ts): the
 * browser's microphone plays 1000 Hz, the plain side plays 440 Hz, and each side must hear the
 * other's tone, not silence and not its own.
 */
const BROWSER_HZ = '1000';
const PHONE_HZ = '440';

function explain(run: { code: number | null; output: string }): string {
  return `scenario exit ${String(run.code)}\n${run.output.slice(-6000)}`;
}

describeWithPeers('Chromium ↔ plain RTP through Tandem', ['chromium', 'unshare'], () => {
  it('ng: a browser offer becomes RTP/AVP PCMA for the phone, and audio flows both ways (Opus ↔ PCMA)', async () => {
    const run = await runScenarioInNetns<NgCallResult>('test/e2e/browser/ng-call.scenario.ts', ['browser-offers'], 60_000);
    const r = run.result;
    expect(r, explain(run)).toBeDefined();
    if (r === undefined) return;
    // What each side was told.
    expect(r.toPhone).toMatch(/^m=audio \d+ RTP\/AVP 8[ \r\n]/m);
    for (const gone of [/a=fingerprint/, /a=setup/, /a=ice-/, /a=candidate/, /opus/, /a=rtcp-mux/]) expect(r.toPhone).not.toMatch(gone);
    expect(r.toBrowser).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 111 \d+\r?$/m); // Opus and its telephone-event
    expect(r.toBrowser).toMatch(/^a=rtcp-mux\r?$/m);
    expect(r.toBrowser).toMatch(/^a=setup:passive\r?$/m);
    // The browser completed ICE and DTLS with Tandem and decodes Opus from it.
    expect(r.browser.state, explain(run)).toMatchObject({ ice: 'connected', connection: 'connected', codec: 'audio/opus/48000' });
    expect(r.browser.state.inbound).toBeGreaterThan(50);
    // Phone side: PCMA only, and the browser's 1000 Hz tone dominates by far.
    expect(r.plain.payloadTypes).toEqual([8]);
    expect(r.plain.packets).toBeGreaterThan(50);
    const amp = r.plain.amp;
    expect(amp[BROWSER_HZ], explain(run)).toBeGreaterThan(2000); // the WAV peaks at 0.3 FS ≈ 9830
    for (const other of [PHONE_HZ, '1500', '2500']) expect(amp[BROWSER_HZ] / amp[other]).toBeGreaterThan(100); // > 40 dB
    // Browser side: the phone's 440 Hz is the spectral peak (FFT bins are 11.7 Hz wide), far above 1000 Hz.
    expect(Math.abs(r.browser.heard.peakHz - 440)).toBeLessThan(20);
    expect(r.browser.heard.at[PHONE_HZ]).toBeGreaterThan(-50);
    expect(r.browser.heard.at[PHONE_HZ] - r.browser.heard.at[BROWSER_HZ]).toBeGreaterThan(30);
    // DTMF: the browser's RTCDTMFSender sends '5' for 200 ms as telephone-event/48000 beside Opus;
    // the phone gets it as telephone-event/8000 (RFC 4733): one event timestamp on its audio timeline,
    // durations ÷6 (200 ms = 1600 at 8 kHz), the three end packets, sequence numbers without gaps.
    expect(r.toPhone).toMatch(/^a=rtpmap:\d+ telephone-event\/8000\r?$/m);
    expect(r.toPhone).not.toMatch(/telephone-event\/48000/);
    expect(r.toBrowser).toMatch(/^a=rtpmap:\d+ telephone-event\/48000\r?$/m);
    const dtmf = r.plain.dtmf;
    expect(dtmf.length, explain(run)).toBeGreaterThanOrEqual(4);
    expect(dtmf.every((d) => d.event === 5)).toBe(true);
    expect(new Set(dtmf.map((d) => d.ts)).size).toBe(1);
    expect(dtmf[0].ts).toBeGreaterThanOrEqual(r.plain.audioTsRange[0]);
    expect(dtmf[0].ts).toBeLessThanOrEqual(r.plain.audioTsRange[1]);
    expect(dtmf.slice(1).map((d, i) => (d.seq - dtmf[i].seq) & 0xffff).every((step) => step === 1)).toBe(true);
    expect(dtmf.slice(1).every((d, i) => d.duration >= dtmf[i].duration)).toBe(true);
    const ends = dtmf.filter((d) => d.end);
    expect(ends.length).toBeGreaterThanOrEqual(1);
    expect(ends[0].duration).toBeGreaterThanOrEqual(1200);
    expect(ends[0].duration).toBeLessThanOrEqual(2400);
  }, 70_000);

  it('ng: a phone\'s PCMA offer made WebRTC (`WebRTC` flag, Opus added) is answered by the browser; Tandem offers DTLS actpass and the browser picks its role', async () => {
    const run = await runScenarioInNetns<NgCallResult>('test/e2e/browser/ng-call.scenario.ts', ['phone-offers'], 60_000);
    const r = run.result;
    expect(r, explain(run)).toBeDefined();
    if (r === undefined) return;
    // What Tandem offered the browser, and what the phone got back.
    expect(r.toBrowser).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 96 97\r?$/m);
    expect(r.toBrowser).toMatch(/^a=rtpmap:96 opus\/48000\/2\r?$/m);
    expect(r.toBrowser).toMatch(/^a=setup:actpass\r?$/m);
    expect(r.toBrowser).toMatch(/^a=ice-lite\r?$/m);
    expect(r.toBrowser).toMatch(/^a=rtcp-mux\r?$/m);
    expect(r.toBrowser).toMatch(/^a=fingerprint:sha-256 /m);
    expect(r.toBrowser).not.toMatch(/PCMA|a=crypto/);
    expect(r.toPhone).toMatch(/^m=audio \d+ RTP\/AVP 8 101\r?$/m);
    for (const gone of [/a=fingerprint/, /a=setup/, /a=ice-/, /a=candidate/, /opus/, /a=rtcp-mux/, /a=group/]) expect(r.toPhone).not.toMatch(gone);
    expect(r.browser.state, explain(run)).toMatchObject({ ice: 'connected', connection: 'connected', codec: 'audio/opus/48000' });
    expect(r.plain.payloadTypes).toEqual([8]);
    expect(r.plain.amp[BROWSER_HZ], explain(run)).toBeGreaterThan(2000);
    for (const other of [PHONE_HZ, '1500', '2500']) expect(r.plain.amp[BROWSER_HZ] / r.plain.amp[other]).toBeGreaterThan(100);
    expect(Math.abs(r.browser.heard.peakHz - 440)).toBeLessThan(20);
    expect(r.browser.heard.at[PHONE_HZ] - r.browser.heard.at[BROWSER_HZ]).toBeGreaterThan(30);
  }, 70_000);

  itWithPeers('B2BUA: JsSIP over WSS calls a SIPp PCMU callee over UDP; Opus ↔ PCMU both ways, BYE ends both legs', ['sipp', 'dumpcap'], async () => {
    const run = await runScenarioInNetns<SipCallResult>('test/e2e/browser/sip-call.scenario.ts', [], 80_000);
    const r = run.result;
    expect(r, explain(run)).toBeDefined();
    if (r === undefined) return;
    // Leg A (browser): DTLS-SRTP, ICE-lite, rtcp-mux, BUNDLE kept, Opus only (the route allows leg A Opus alone).
    expect(r.browserAnswer).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 111( \d+)*\r?$/m);
    expect(r.browserAnswer).toMatch(/^a=group:BUNDLE 0\r?$/m);
    expect(r.browserAnswer).toMatch(/^a=ice-lite\r?$/m);
    expect(r.browserAnswer).not.toMatch(/PCM[AU]/);
    // Leg B (SIPp): plain RTP/AVP with PCMU, none of the browser's transport.
    expect(r.legBInvite).toMatch(/^m=audio \d+ RTP\/AVP 0[ \r\n]/m);
    for (const gone of [/a=fingerprint/, /a=setup/, /a=ice-/, /a=candidate/, /a=group/, /a=mid/, /opus/]) expect(r.legBInvite).not.toMatch(gone);
    expect(r.browser.state, explain(run)).toMatchObject({ ice: 'connected', connection: 'connected', codec: 'audio/opus/48000' });
    // SIPp got PCMU carrying the browser's 1000 Hz (dumpcap on its media port).
    expect(r.callee.payloadTypes).toEqual([0]);
    expect(r.callee.packets).toBeGreaterThan(50);
    expect(r.callee.amp[BROWSER_HZ], explain(run)).toBeGreaterThan(2000);
    for (const other of [PHONE_HZ, '1500', '2500']) expect(r.callee.amp[BROWSER_HZ] / r.callee.amp[other]).toBeGreaterThan(100);
    // The browser hears SIPp's 440 Hz pcap.
    expect(Math.abs(r.browser.heard.peakHz - 440)).toBeLessThan(20);
    expect(r.browser.heard.at[PHONE_HZ] - r.browser.heard.at[BROWSER_HZ]).toBeGreaterThan(30);
    // The browser's BYE ended the call at SIPp (its scenario ends with the BYE) and in the media plane.
    expect(r.browser.hangup).toBe('ended');
    expect(r.callee.exitCode).toBe(0);
    expect(r.callsLeft).toBe(0);
  }, 90_000);
  itWithPeers('registrar: JsSIP registers over WSS, a SIPp PCMU caller over UDP reaches it through a "registered" route; PCMU ↔ Opus both ways, BYE ends both legs', ['chromium', 'unshare', 'sipp', 'dumpcap'], async () => {
    const run = await runScenarioInNetns<SipRegisteredResult>('test/e2e/browser/sip-registered.scenario.ts', [], 80_000);
    const r = run.result;
    expect(r, explain(run)).toBeDefined();
    if (r === undefined) return;
    // The REGISTER (from a --trusted source, no credentials yet) got 200, and the binding is tied
    // to the browser's WSS connection: the only way back to it.
    expect(r.register.status, explain(run)).toBe(200);
    expect(r.bindings).toHaveLength(1);
    expect(r.bindings[0]).toMatchObject({ flowProtocol: 'wss', connectionBound: true });
    // The call reached the browser over that connection, addressed to the contact it registered.
    expect(r.browserRuri, explain(run)).toBe(r.bindings[0].contact.replace(/^<|>$/g, ''));
    // Leg B (browser): Tandem offers WebRTC, Opus only: DTLS actpass, ICE-lite, rtcp-mux.
    expect(r.browserOffer).toMatch(/^m=audio \d+ UDP\/TLS\/RTP\/SAVPF 96( \d+)*\r?$/m);
    expect(r.browserOffer).toMatch(/^a=rtpmap:96 opus\/48000\/2\r?$/m);
    expect(r.browserOffer).toMatch(/^a=setup:actpass\r?$/m);
    expect(r.browserOffer).toMatch(/^a=ice-lite\r?$/m);
    expect(r.browserOffer).toMatch(/^a=rtcp-mux\r?$/m);
    expect(r.browserOffer).not.toMatch(/PCM[AU]|a=crypto/);
    // Leg A (SIPp): plain RTP/AVP PCMU, none of the browser's transport.
    expect(r.callerAnswer).toMatch(/^m=audio \d+ RTP\/AVP 0[ \r\n]/m);
    for (const gone of [/a=fingerprint/, /a=setup/, /a=ice-/, /a=candidate/, /a=group/, /a=mid/, /opus/]) expect(r.callerAnswer).not.toMatch(gone);
    expect(r.browser.state, explain(run)).toMatchObject({ ice: 'connected', connection: 'connected', codec: 'audio/opus/48000' });
    // SIPp got PCMU carrying the browser's 1000 Hz (dumpcap on its media port).
    expect(r.caller.payloadTypes).toEqual([0]);
    expect(r.caller.packets).toBeGreaterThan(50);
    expect(r.caller.amp[BROWSER_HZ], explain(run)).toBeGreaterThan(2000);
    for (const other of [PHONE_HZ, '1500', '2500']) expect(r.caller.amp[BROWSER_HZ] / r.caller.amp[other]).toBeGreaterThan(100);
    // The browser hears SIPp's 440 Hz pcap.
    expect(Math.abs(r.browser.heard.peakHz - 440)).toBeLessThan(20);
    expect(r.browser.heard.at[PHONE_HZ] - r.browser.heard.at[BROWSER_HZ]).toBeGreaterThan(30);
    // The browser's BYE ended the call at SIPp (its scenario ends answering it) and in the media
    // plane; the registration outlives the call (the WebSocket stays open).
    expect(r.browser.hangup).toBe('ended');
    expect(r.caller.exitCode).toBe(0);
    expect(r.callsLeft).toBe(0);
    expect(r.bindingsAfterCall).toBe(1);
    // Chromium gone without unregistering: its connection closed, and with it the binding.
    expect(r.bindingsAfterBrowserGone, explain(run)).toBe(0);
    expect(r.registrarCounters).toMatchObject({ created: 1, flowClosed: 1, forbidden: 0 });
  }, 90_000);

  itWithPeers('registrar: without authentication a browser from a source not in --trusted is refused 403 and nothing is bound', ['chromium', 'unshare'], async () => {
    const run = await runScenarioInNetns<SipRegisterRefused>('test/e2e/browser/sip-registered.scenario.ts', ['untrusted'], 60_000);
    const r = run.result;
    expect(r, explain(run)).toBeDefined();
    if (r === undefined) return;
    // The same page and UA that register with 200 in the test above (the positive control).
    expect(r.register.status, explain(run)).toBe(403);
    expect(r.bindings).toEqual([]);
    expect(r.registrarCounters).toMatchObject({ registers: 1, forbidden: 1, created: 0 });
  }, 70_000);
});
