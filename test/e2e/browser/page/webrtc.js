// Runs inside headless Chromium. Plain JavaScript on purpose: it is served as is, not compiled, so
// nothing a TypeScript transform adds (helpers like __name) can break it in the page.
'use strict';

const MIC = { echoCancellation: false, noiseSuppression: false, autoGainControl: false };

let pc = null;
let remoteStream = null;

function waitGathering(p, ms) {
  if (p.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    p.addEventListener('icegatheringstatechange', () => {
      if (p.iceGatheringState === 'complete') {
        clearTimeout(t);
        resolve();
      }
    });
  });
}

/** State changes with page timestamps, for the scenario's timing log. */
window.rtcEvents = [];
function logStates(p) {
  const at = (what) => window.rtcEvents.push({ t: performance.now(), what });
  p.addEventListener('iceconnectionstatechange', () => at('ice ' + p.iceConnectionState));
  p.addEventListener('connectionstatechange', () => at('connection ' + p.connectionState));
  p.addEventListener('track', () => at('track'));
}

function keepRemote(p) {
  logStates(p);
  p.addEventListener('track', (ev) => {
    remoteStream = ev.streams[0] || new MediaStream([ev.track]);
    // WebAudio only gets remote WebRTC audio while the stream is also played by a media element.
    const el = document.createElement('audio');
    el.muted = true;
    el.autoplay = true;
    el.srcObject = remoteStream;
    document.body.appendChild(el);
  });
}

/** The browser's offer (full ICE gathering, no trickle): what a WebRTC app would send to its server. */
window.makeOffer = async function makeOffer() {
  const mic = await navigator.mediaDevices.getUserMedia({ audio: MIC });
  pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
  keepRemote(pc);
  for (const t of mic.getTracks()) pc.addTrack(t, mic);
  await pc.setLocalDescription(await pc.createOffer());
  await waitGathering(pc, 3000);
  return pc.localDescription.sdp;
};

/** The browser as answerer: takes an offer (e.g. a SIP phone's, made WebRTC by the media server). */
window.makeAnswer = async function makeAnswer(offerSdp) {
  const mic = await navigator.mediaDevices.getUserMedia({ audio: MIC });
  pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
  keepRemote(pc);
  await pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
  for (const t of mic.getTracks()) pc.addTrack(t, mic);
  await pc.setLocalDescription(await pc.createAnswer());
  await waitGathering(pc, 3000);
  return pc.localDescription.sdp;
};

window.acceptAnswer = async function acceptAnswer(sdp) {
  await pc.setRemoteDescription({ type: 'answer', sdp });
};

/** Places a call with JsSIP over a WebSocket; resolves when the call is confirmed (2xx + ACK). */
window.sipCall = function sipCall(wsUrl, target) {
  // eslint-disable-next-line no-undef
  const JsSIP = window.JsSIP;
  const socket = new JsSIP.WebSocketInterface(wsUrl);
  const ua = new JsSIP.UA({ sockets: [socket], uri: 'sip:browser@127.0.0.1', register: false, session_timers: false });
  window.sipLog = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('call not confirmed in 15 s: ' + window.sipLog.join(' | '))), 15000);
    ua.on('connected', () => {
      const session = ua.call(target, {
        mediaConstraints: { audio: MIC, video: false },
        pcConfig: { bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require', iceServers: [] },
      });
      window.sipSession = session;
      pc = session.connection;
      keepRemote(pc);
      session.on('progress', (e) => window.sipLog.push('progress ' + (e.response ? e.response.status_code : '')));
      session.on('failed', (e) => {
        clearTimeout(timer);
        reject(new Error('call failed: ' + e.cause + ' | ' + window.sipLog.join(' | ')));
      });
      session.on('confirmed', () => {
        clearTimeout(timer);
        resolve({ offer: pc.localDescription.sdp, answer: pc.remoteDescription.sdp });
      });
    });
    ua.on('disconnected', () => window.sipLog.push('ws disconnected'));
    ua.start();
  });
};

/**
 * A JsSIP UA that registers as `uri` over a WebSocket and answers every incoming call itself.
 * Resolves with the REGISTER's final status once it is known; `sipAnswered()` then waits for a call.
 */
window.sipRegister = function sipRegister(wsUrl, uri) {
  // eslint-disable-next-line no-undef
  const JsSIP = window.JsSIP;
  const socket = new JsSIP.WebSocketInterface(wsUrl);
  // No password: Tandem lets this trusted source register without digest authentication. With
  // authentication on, `password` (and `authorization_user` if it differs) would go here.
  const ua = new JsSIP.UA({ sockets: [socket], uri, register: true, register_expires: 600, session_timers: false });
  window.sipLog = [];
  window.sipCallState = new Promise((resolve, reject) => {
    ua.on('newRTCSession', (e) => {
      if (e.originator !== 'remote') return;
      const session = e.session;
      window.sipSession = session;
      window.sipLog.push('incoming ' + e.request.ruri.toString());
      // The peer connection exists only once answer() creates it: watch its tracks from the start.
      session.on('peerconnection', (ev) => {
        pc = ev.peerconnection;
        keepRemote(pc);
      });
      session.on('failed', (ev) => reject(new Error('incoming call failed: ' + ev.cause + ' | ' + window.sipLog.join(' | '))));
      session.on('confirmed', () => resolve({ offer: pc.remoteDescription.sdp, answer: pc.localDescription.sdp, ruri: e.request.ruri.toString() }));
      session.answer({
        mediaConstraints: { audio: MIC, video: false },
        pcConfig: { bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require', iceServers: [] },
      });
    });
  });
  // A call that never comes is reported by sipAnswered's timeout, not as an unhandled rejection.
  window.sipCallState.catch(() => undefined);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no REGISTER outcome in 10 s: ' + window.sipLog.join(' | '))), 10000);
    ua.on('registered', (e) => {
      clearTimeout(timer);
      resolve({ status: e.response.status_code, contact: ua.contact.toString() });
    });
    ua.on('registrationFailed', (e) => {
      clearTimeout(timer);
      resolve({ status: e.response ? e.response.status_code : 0, cause: e.cause });
    });
    ua.on('disconnected', () => window.sipLog.push('ws disconnected'));
    ua.start();
  });
};

/** Waits (at most `ms`) until the incoming call sipRegister's UA answered is confirmed by the ACK. */
window.sipAnswered = function sipAnswered(ms) {
  return Promise.race([
    window.sipCallState,
    new Promise((_, reject) => setTimeout(() => reject(new Error('no confirmed incoming call in ' + ms + ' ms: ' + window.sipLog.join(' | '))), ms)),
  ]);
};

window.sipHangup = function sipHangup() {
  return new Promise((resolve) => {
    const s = window.sipSession;
    if (!s || s.isEnded()) return resolve('already ended');
    s.on('ended', () => resolve('ended'));
    s.terminate();
    setTimeout(() => resolve('no ended event in 3 s'), 3000);
  });
};

/**
 * Listens to the remote audio for `ms` and returns the averaged spectrum's peak and the levels at
 * the given frequencies (dBFS per FFT bin). getStats audio levels stay 0 in headless mode, so an
 * AnalyserNode does the listening.
 */
window.listen = async function listen(ms, freqs) {
  if (!remoteStream) throw new Error('no remote track');
  const ctx = new AudioContext();
  await ctx.resume();
  const src = ctx.createMediaStreamSource(remoteStream);
  const an = ctx.createAnalyser();
  an.fftSize = 4096;
  an.smoothingTimeConstant = 0;
  src.connect(an);
  const bins = new Float32Array(an.frequencyBinCount);
  const sum = new Float64Array(an.frequencyBinCount);
  let frames = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    await new Promise((r) => setTimeout(r, 100));
    an.getFloatFrequencyData(bins);
    for (let i = 0; i < bins.length; i++) sum[i] += Number.isFinite(bins[i]) ? bins[i] : -200;
    frames++;
  }
  const binHz = ctx.sampleRate / an.fftSize;
  let peak = 1;
  for (let i = 2; i < sum.length; i++) if (sum[i] > sum[peak]) peak = i;
  const at = {};
  for (const f of freqs) at[f] = sum[Math.round(f / binHz)] / frames;
  await ctx.close();
  return { peakHz: peak * binHz, peakDb: sum[peak] / frames, at, frames };
};

/** RFC 4733 events from the browser's own DTMF sender (RTCDTMFSender), e.g. sendDtmf('5', 200). */
window.sendDtmf = function sendDtmf(tones, ms) {
  const sender = pc.getSenders().find((s) => s.dtmf);
  if (!sender || !sender.dtmf.canInsertDTMF) return false;
  sender.dtmf.insertDTMF(tones, ms, 70);
  return true;
};

window.rtcState = async function rtcState() {
  const out = { ice: pc.iceConnectionState, connection: pc.connectionState, inbound: 0, outbound: 0, codec: '' };
  const stats = await pc.getStats();
  stats.forEach((s) => {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      out.inbound = s.packetsReceived;
      const c = stats.get(s.codecId);
      if (c) out.codec = c.mimeType + '/' + c.clockRate;
    }
    if (s.type === 'outbound-rtp' && s.kind === 'audio') out.outbound = s.packetsSent;
  });
  return out;
};
