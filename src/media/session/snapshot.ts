import { TandemError } from '../../common/errors.js';
import type { MediaEchoMode, MediaOptions } from '../api.js';
import type { BridgePorts, SrtpSideConfig } from '../pool/protocol.js';
import type { AnswerCodecPlan, OfferCodecPlan } from '../../sdp/negotiate.js';
import type { MediaInterfaceSpec } from './interfaces.js';
import type { CallMedia, DtlsState, IceCredentials, MediaCall, PeerMedia, PendingKeying, Side } from './call.js';

/**
 * A media session as plain data, so another process can take it over (`--redis`): the ports, both
 * peers as their SDP described them, the codec plans, framing, ICE credentials, SDES keys and the
 * keying between an offer and its answer. What lives only in a worker (latched peers, RTP
 * statistics, SRTP rollover counters, DTLS associations) is not here: a restored bridge starts
 * from the configuration, as a new one would.
 */
export interface CallSnapshot {
  v: 1;
  callId: string;
  createdMs: number;
  tags: [string | undefined, string | undefined];
  labels: [string | undefined, string | undefined];
  echo?: { mode: MediaEchoMode; requestedBy: Side };
  offerGroups?: { type: string; mids: string }[];
  interfaces?: [MediaInterfaceSpec, MediaInterfaceSpec];
  /** Blocking and silencing toward each side (MediaCall.blocking), when any is on. */
  blocking?: MediaCall['blocking'];
  medias: MediaSnapshot[];
}

export interface MediaSnapshot {
  index: number;
  ports: BridgePorts;
  peer: [PeerMedia | undefined, PeerMedia | undefined];
  offerPlan?: OfferCodecPlan;
  answerPlan?: AnswerCodecPlan;
  offerSide: Side;
  offerOptions?: MediaOptions;
  framesTo: [number, number];
  ice: [IceCredentials | undefined, IceCredentials | undefined];
  dtls?: DtlsState;
  srtp: [SrtpSideConfig | undefined, SrtpSideConfig | undefined];
  keying?: PendingKeying;
  bridgedProfiles: boolean;
  /** keys of finished DTLS handshakes: a takeover keeps SRTP going with them. */
  dtlsKeys?: [SrtpSideConfig | undefined, SrtpSideConfig | undefined];
}

/**
 * Where the process's DTLS certificate is kept across a takeover (`--redis`): the fingerprint peers
 * already hold stays valid, so a re-offer after a takeover does not make a browser re-handshake.
 */
export interface CertificateStore {
  load(): Promise<string | undefined>;
  save(text: string): void;
}

/** A stored certificate, or undefined when the text is not one. */
export function decodeCertificate(text: string | undefined): { certPem: string; keyPem: string; fingerprint: string } | undefined {
  if (text === undefined) return undefined;
  try {
    const c = JSON.parse(text) as { certPem?: unknown; keyPem?: unknown; fingerprint?: unknown };
    if (typeof c.certPem === 'string' && typeof c.keyPem === 'string' && typeof c.fingerprint === 'string' && /^sha-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}$/.test(c.fingerprint))
      return { certPem: c.certPem, keyPem: c.keyPem, fingerprint: c.fingerprint };
  } catch {
    // not a certificate: a new one is made
  }
  return undefined;
}

/** Where LocalMedia writes its sessions when they change, and removes them when they end (`--redis`). */
export interface MediaPersistence {
  save(callId: string, snapshot: string): void;
  remove(callId: string): void;
}

/** Fields of a CallMedia a snapshot carries back (everything but its bridge). */
export type RestoredMediaState = Omit<MediaSnapshot, 'index' | 'ports'>;

export function snapshotOf(call: MediaCall): CallSnapshot {
  return {
    v: 1,
    callId: call.callId,
    createdMs: call.createdMs,
    tags: call.tags,
    labels: call.labels,
    ...(call.echo !== undefined ? { echo: call.echo } : {}),
    ...(call.offerGroups !== undefined ? { offerGroups: call.offerGroups } : {}),
    ...(call.interfaces !== undefined ? { interfaces: call.interfaces } : {}),
    ...(Object.values(call.blocking).some((sides) => sides[0] || sides[1]) ? { blocking: call.blocking } : {}),
    medias: call.medias.map((m) => mediaSnapshot(m)),
  };
}

function mediaSnapshot(m: CallMedia): MediaSnapshot {
  return {
    index: m.index,
    ports: m.ports,
    peer: m.peer,
    ...(m.offerPlan !== undefined ? { offerPlan: m.offerPlan } : {}),
    ...(m.answerPlan !== undefined ? { answerPlan: m.answerPlan } : {}),
    offerSide: m.offerSide,
    ...(m.offerOptions !== undefined ? { offerOptions: m.offerOptions } : {}),
    framesTo: m.framesTo,
    ice: m.ice,
    ...(m.dtls !== undefined ? { dtls: m.dtls } : {}),
    srtp: m.srtp,
    ...(m.keying !== undefined ? { keying: m.keying } : {}),
    bridgedProfiles: m.bridgedProfiles,
    ...(m.dtlsKeys[0] !== undefined || m.dtlsKeys[1] !== undefined ? { dtlsKeys: m.dtlsKeys } : {}),
  };
}

/** JSON text; Buffers (pending SDES keys) as `{"$b64": …}` so they come back as Buffers. */
export function encodeSnapshot(s: CallSnapshot): string {
  return JSON.stringify(s, function (this: Record<string, unknown>, key: string, value: unknown) {
    const raw = this[key];
    return Buffer.isBuffer(raw) ? { $b64: raw.toString('base64') } : value;
  });
}

/** The inverse of encodeSnapshot; a text that is not a snapshot is a TandemError naming why. */
export function decodeSnapshot(text: string): CallSnapshot {
  let v: unknown;
  try {
    v = JSON.parse(text, (_k, value: unknown) => {
      // JSON writes an undefined array slot (a side without ICE or SRTP) as null; state never holds null.
      if (value === null) return undefined;
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
        const b = (value as { $b64?: unknown }).$b64;
        if (typeof b === 'string' && Object.keys(value).length === 1) return Buffer.from(b, 'base64');
      }
      return value;
    });
  } catch (err) {
    throw new TandemError('BAD_REQUEST', `stored media session is not JSON: ${err instanceof Error ? err.message : String(err)}`);
  }
  const s = v as Partial<CallSnapshot> | null;
  if (typeof s !== 'object' || s === null || s.v !== 1) throw new TandemError('BAD_REQUEST', 'stored media session: not a version 1 snapshot');
  if (typeof s.callId !== 'string' || s.callId === '') throw new TandemError('BAD_REQUEST', 'stored media session: no call-id');
  if (!Array.isArray(s.tags) || !Array.isArray(s.medias)) throw new TandemError('BAD_REQUEST', 'stored media session: no tags or medias', { callId: s.callId });
  for (const m of s.medias as unknown[]) {
    const ms = m as Partial<MediaSnapshot> | null;
    const ports = ms?.ports;
    if (!Array.isArray(ports) || ports.length !== 4 || !ports.every((p) => Number.isInteger(p) && p > 0 && p < 65536) || ports[1] !== ports[0] + 1 || ports[3] !== ports[2] + 1)
      throw new TandemError('BAD_REQUEST', 'stored media session: a media without four ports', { callId: s.callId });
    if (!Array.isArray(ms?.peer) || !Array.isArray(ms?.framesTo) || !Array.isArray(ms?.srtp) || !Array.isArray(ms?.ice))
      throw new TandemError('BAD_REQUEST', 'stored media session: a media without its peers', { callId: s.callId });
    // The m= line a media answers and the side that offered it steer every later offer and answer.
    if (!Number.isInteger(ms?.index) || (ms?.index ?? -1) < 0 || (ms?.offerSide !== 0 && ms?.offerSide !== 1))
      throw new TandemError('BAD_REQUEST', 'stored media session: a media without its m= index or offer side', { callId: s.callId });
  }
  // Read by side (call.labels[side]) long after the takeover: refused here, not at the first query.
  if (!Array.isArray(s.labels)) throw new TandemError('BAD_REQUEST', 'stored media session: no labels', { callId: s.callId });
  if (s.blocking !== undefined) {
    const b = s.blocking as Partial<Record<string, unknown>> | null;
    const pair = (v: unknown): boolean => Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'boolean');
    if (typeof b !== 'object' || b === null || !pair(b['block-dtmf']) || !pair(b['block-media']) || !pair(b.silence))
      throw new TandemError('BAD_REQUEST', 'stored media session: blocking is not two booleans per kind', { callId: s.callId });
  }
  return s as CallSnapshot;
}

/** Puts a snapshot's per-media state back on a CallMedia bound on the same ports. */
export function restoreMediaState(m: CallMedia, s: MediaSnapshot): void {
  m.peer = s.peer;
  if (s.offerPlan !== undefined) m.offerPlan = s.offerPlan;
  if (s.answerPlan !== undefined) m.answerPlan = s.answerPlan;
  m.offerSide = s.offerSide;
  if (s.offerOptions !== undefined) m.offerOptions = s.offerOptions;
  m.framesTo = s.framesTo;
  m.ice = s.ice;
  if (s.dtls !== undefined) m.dtls = s.dtls;
  m.srtp = s.srtp;
  if (s.keying !== undefined) m.keying = s.keying;
  m.bridgedProfiles = s.bridgedProfiles;
  if (s.dtlsKeys !== undefined) m.dtlsKeys = [s.dtlsKeys[0], s.dtlsKeys[1]];
  m.dtlsRestored = true;
}
