import type { BDict } from './bencode.js';
import { TandemError } from '../common/errors.js';
import type { MediaControl, MediaControlAction, MediaControlRequest } from '../media/api.js';
import { expandRtppFlags, normalizeKey, type NgFields } from './ng-options.js';
import { readDtmfSecurity } from './ng-offer-control.js';

/**
 * rtpengine's media control commands (ng_control_protocol.md: block DTMF … play DTMF) → a typed
 * MediaControlRequest. Values are checked here and a bad one is an ng error naming the key;
 * rtpengine's clamps are kept (play DTMF duration and pause 100–5000 ms, volume as −dB).
 */

/**
 * Most a `blob`/`blob64` may carry (2 s of 16-bit 8 kHz audio): ng over UDP cannot carry much
 * more anyway, and a larger sound belongs in a file (`file=`), over TCP too.
 */
export const MAX_BLOB_BYTES = 32 * 1024;
const MAX_REPEAT = 1000;
const DTMF_CHARS = '0123456789*#ABCD';

type Kind = MediaControlAction['kind'];

function base(f: NgFields, action: MediaControlAction): MediaControlRequest {
  const flags = f.list('flags').map(normalizeKey);
  const all = flags.includes('all') || (f.string('all') ?? '').toLowerCase() === 'all';
  return {
    callId: f.requiredString('call-id'),
    ...(f.string('label') !== undefined ? { label: f.string('label') } : {}),
    ...(f.string('from-tag') !== undefined ? { fromTag: f.string('from-tag') } : {}),
    ...(f.string('to-tag') !== undefined ? { toTag: f.string('to-tag') } : {}),
    all,
    directional: flags.includes('directional'),
    action,
  };
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, v));
}

/** play DTMF's `code` (or `digit`): 0–15, or one of 0–9 * # A–D. */
export function dtmfCode(f: NgFields): number {
  const raw = f.raw('code') ?? f.raw('digit');
  if (raw === undefined) throw new TandemError('BAD_REQUEST', 'No code in message (play DTMF needs `code` or `digit`)');
  if (typeof raw === 'number') {
    if (!Number.isInteger(raw) || raw < 0 || raw > 15) throw new TandemError('BAD_REQUEST', "Out of range 'code' specified (0-15)");
    return raw;
  }
  if (typeof raw === 'string') {
    const t = raw.trim().toUpperCase();
    if (/^\d+$/.test(t) && t.length > 1) {
      const n = Number(t);
      if (n > 15) throw new TandemError('BAD_REQUEST', "Out of range 'code' specified (0-15)");
      return n;
    }
    const i = t.length === 1 ? DTMF_CHARS.indexOf(t) : -1;
    if (i >= 0) return i;
  }
  throw new TandemError('BAD_REQUEST', "Out of range 'code' specified (0-15 or one of 0-9 * # A-D)");
}

function playSource(f: NgFields): { file: string } | { blob: Buffer } {
  const file = f.string('file');
  const blob64 = f.string('blob64');
  const blob = f.raw('blob');
  const given = [file, blob64, blob].filter((x) => x !== undefined).length;
  if (given === 0) throw new TandemError('BAD_REQUEST', 'No media file specified (file, blob or blob64)');
  if (given > 1) throw new TandemError('BAD_REQUEST', 'More than one media source given (file, blob, blob64): give one');
  if (f.has('db-id')) throw new TandemError('BAD_REQUEST', 'db-id is not supported (no media database): use file or blob');
  if (file !== undefined) {
    if (file === '') throw new TandemError('BAD_REQUEST', 'key "file" is empty');
    return { file };
  }
  let bytes: Buffer;
  if (blob64 !== undefined) {
    if (blob64.length > (MAX_BLOB_BYTES * 4) / 3 + 4) throw new TandemError('BAD_REQUEST', `blob64 is over the ${MAX_BLOB_BYTES}-byte limit`);
    if (!/^[A-Za-z0-9+/\s]*={0,2}\s*$/.test(blob64)) throw new TandemError('BAD_REQUEST', 'key "blob64" is not base64');
    bytes = Buffer.from(blob64, 'base64');
  } else {
    if (typeof blob !== 'string') throw new TandemError('BAD_REQUEST', 'key "blob" must be a string');
    // The ng decoder reads strings as UTF-8: binary that is not valid UTF-8 cannot survive it.
    if (blob.includes('\ufffd')) throw new TandemError('BAD_REQUEST', 'key "blob" holds bytes that are not UTF-8 safe: send it as blob64');
    bytes = Buffer.from(blob, 'utf8');
  }
  if (bytes.length > MAX_BLOB_BYTES) throw new TandemError('BAD_REQUEST', `blob of ${bytes.length} bytes is over the ${MAX_BLOB_BYTES}-byte limit`);
  return { blob: bytes };
}

export function readMediaControl(f: NgFields, kind: Kind, on = true): MediaControlRequest {
  // Kamailio ≥ 5.8 may send the whole flag string (`file=… from-tag=…`) as rtpp-flags.
  expandRtppFlags(f);
  switch (kind) {
    case 'block-dtmf':
      // rtpengine's `DTMF-security=off` on a `block DTMF` message blocks nothing.
      return base(f, { kind, on: on && readDtmfSecurity(f).mode !== 'off' });
    case 'block-media':
    case 'silence':
      return base(f, { kind, on });
    case 'stop':
      return base(f, { kind });
    case 'play':
      return base(f, {
        kind,
        source: playSource(f),
        repeat: f.integer('repeat-times', 1, MAX_REPEAT) ?? 1,
        startMs: f.integer('start-pos', 0, 24 * 3600 * 1000) ?? 0,
      });
    case 'dtmf': {
      const volume = f.integer('volume', -63, 63) ?? -8;
      return base(f, {
        kind,
        code: dtmfCode(f),
        durationMs: clamp(f.integer('duration', 0, 1_000_000) || 250, 100, 5000),
        volumeDb: -Math.abs(volume),
        pauseMs: clamp(f.integer('pause', 0, 1_000_000) || 100, 100, 5000),
      });
    }
  }
}

/** The ng handler of one media control command. */
export function mediaControlCommand(kind: Kind, on = true): (f: NgFields, ctx: { media: MediaControl }) => Promise<BDict> {
  return async (f, { media }) => {
    const req = readMediaControl(f, kind, on);
    if (media.control === undefined) throw new TandemError('BAD_REQUEST', 'media control is not supported by this media plane');
    const r = await media.control(req);
    const reply: BDict = { result: 'ok' };
    if (r.durationMs !== undefined) reply.duration = r.durationMs;
    if (kind === 'stop') reply['last-frame-pos'] = r.lastFramePos ?? 0;
    const warnings = [
      ...(f.has('repeat-duration') ? ['repeat-duration not supported yet; repeat-times is used'] : []),
      ...(kind === 'block-dtmf' && on ? [readDtmfSecurity(f).warning ?? ''] : []),
    ].filter((w) => w !== '');
    if (warnings.length > 0) reply.warning = warnings.join('; ');
    return reply;
  };
}
