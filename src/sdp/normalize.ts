import type { SessionDescription } from 'sdp-transform';

/**
 * sdp-transform turns every captured field that looks like an integer into a number
 * (`a=rtpmap:8 1234/8000` gives `codec: 1234`, `a=fmtp:101 15` gives `config: 15`, `a=mid:0`
 * gives `mid: 0`), whatever the field means. Everything downstream treats names, parameters,
 * credentials and addresses as strings, so one hostile digit string used to throw deep in the
 * B2BUA (`entry.trim is not a function`). Here, once, at the parse boundary: the fields that are
 * numbers by their grammar stay numbers, every other number becomes the text it was.
 */
const NUMERIC: ReadonlySet<string> = new Set([
  'version',
  'origin.sessionId',
  'origin.sessionVersion',
  'origin.ipVer',
  'timing.start',
  'timing.stop',
  'connection.version',
  'connection.ttl',
  'bandwidth[].limit',
  ...[
    'port',
    'numPorts',
    'connection.version',
    'connection.ttl',
    'bandwidth[].limit',
    'rtp[].payload',
    'rtp[].rate',
    'rtp[].encoding',
    'fmtp[].payload',
    'rtcp.port',
    'rtcp.ipVer',
    'rtcpFb[].payload',
    'rtcpFbTrrInt[].payload',
    'rtcpFbTrrInt[].value',
    'ext[].value',
    'crypto[].id',
    'ptime',
    'maxptime',
    'framerate',
    'candidates[].component',
    'candidates[].priority',
    'candidates[].port',
    'candidates[].rport',
    'candidates[].generation',
    'candidates[].network-id',
    'candidates[].network-cost',
    'ssrcs[].id',
    'sctpmap.sctpmapNumber',
    'sctpmap.maxMessageSize',
    'sctpPort',
    'maxMessageSize',
  ].map((p) => `media[].${p}`),
]);

function walk(node: unknown, path: string): unknown {
  if (typeof node === 'number') return NUMERIC.has(path) ? node : String(node);
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) node[i] = walk(node[i], `${path}[]`);
    return node;
  }
  if (typeof node === 'object' && node !== null) {
    const o = node as Record<string, unknown>;
    for (const k of Object.keys(o)) o[k] = walk(o[k], path === '' ? k : `${path}.${k}`);
  }
  return node;
}

/** Turns numbers sdp-transform made of text fields back into strings, in place. */
export function normalizeSession(session: SessionDescription): SessionDescription {
  walk(session, '');
  return session;
}
