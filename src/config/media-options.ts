import { isIP } from 'node:net';
import { TandemError } from '../common/errors.js';
import { wholeNumber } from './values.js';

/** One node of `--media=…,…`: the in-process plane or an ng server, with its weight. */
export type MediaNodeSpec = { kind: 'local'; weight: number } | { kind: 'ng'; address: string; port: number; weight: number };

/**
 * Where the B2BUA's media plane lives: in-process, one Tandem/rtpengine over ng, or several nodes
 * (Kamailio's rtpengine-set spelling, `local=1,ng:10.0.0.7:2223=3`) chosen by weight per call.
 */
export type MediaPlaneConfig = { kind: 'local' } | { kind: 'ng'; address: string; port: number } | { kind: 'set'; nodes: MediaNodeSpec[] };

export interface MediaConfig {
  media: MediaPlaneConfig;
  /** Seconds a media node that failed stays out of use before it is pinged again. */
  mediaNodeRetry: number;
}

type MediaKey = keyof MediaConfig;

export const MEDIA_OPTIONS: readonly { key: MediaKey; name: string; arg: string; help: string }[] = [
  { key: 'media', name: 'media', arg: 'NODE[=WEIGHT],…', help: 'media plane for SIP calls: local (in-process, default) and/or ng:IP:PORT (a Tandem or rtpengine over ng); several nodes share new calls by weight (default 1), e.g. local=1,ng:10.0.0.7:2223=3' },
  { key: 'mediaNodeRetry', name: 'media-node-retry', arg: 'SECONDS', help: 'with several --media nodes: a node whose ng request times out is left out of use this long, then pinged again (default 60)' },
];

/** `--media` as logs show it. */
export function mediaPlaneName(m: MediaPlaneConfig): string {
  if (m.kind === 'local') return 'local';
  if (m.kind === 'ng') return `ng:${m.address}:${m.port}`;
  return m.nodes.map((n) => `${n.kind === 'local' ? 'local' : `ng:${n.address}:${n.port}`}=${n.weight}`).join(',');
}

export function mediaDefaults(): MediaConfig {
  return { media: { kind: 'local' }, mediaNodeRetry: 60 };
}

export function isMediaKey(key: string): key is MediaKey {
  return MEDIA_OPTIONS.some((o) => o.key === key);
}

export function applyMediaOption(cfg: MediaConfig, key: MediaKey, name: string, v: string, where: string): void {
  if (key === 'mediaNodeRetry') {
    cfg.mediaNodeRetry = wholeNumber(where, name, v, 1, 86_400);
    return;
  }
  const items = v.split(',').map((x) => x.trim());
  if (items.some((x) => x === '')) throw new TandemError('CONFIG', `${where}${name}: "${v}" has an empty node`);
  const nodes = items.map((item) => mediaNode(item, name, where));
  const seen = new Set<string>();
  for (const n of nodes) {
    const id = n.kind === 'local' ? 'local' : `${n.address}:${n.port}`;
    if (seen.has(id)) throw new TandemError('CONFIG', `${where}${name}: ${n.kind === 'local' ? 'local' : `ng:${id}`} is listed twice`);
    seen.add(id);
  }
  if (nodes.every((n) => n.weight === 0)) throw new TandemError('CONFIG', `${where}${name}: every node has weight 0; no call could be placed`);
  const weighted = items.some((x) => x.includes('='));
  if (nodes.length === 1 && !weighted) {
    const n = nodes[0];
    cfg.media = n.kind === 'local' ? { kind: 'local' } : { kind: 'ng', address: n.address, port: n.port };
  } else cfg.media = { kind: 'set', nodes };
}

function mediaNode(item: string, name: string, where: string): MediaNodeSpec {
  const eq = item.lastIndexOf('=');
  const node = eq < 0 ? item : item.slice(0, eq);
  const weight = eq < 0 ? 1 : wholeNumber(where, `${name} weight of ${node}`, item.slice(eq + 1), 0, 1000);
  if (node.toLowerCase() === 'local') return { kind: 'local', weight };
  const m = /^ng:(?:\[([^\]]+)\]|([^:]+)):(\d+)$/i.exec(node);
  const address = m === null ? undefined : (m[1] ?? m[2]);
  if (m === null || address === undefined || isIP(address) === 0) throw new TandemError('CONFIG', `${where}${name}: "${item}" must be local or ng:IP:PORT, with =WEIGHT when there are several`);
  // The ng client accepts replies only from this address; nothing answers from 0.0.0.0 or ::.
  if (/^(0\.0\.0\.0|::)$/.test(address)) throw new TandemError('CONFIG', `${where}${name}: "${address}" is not an address a media server answers from; give its IP`);
  return { kind: 'ng', address, port: wholeNumber(where, name, m[3], 1, 65535), weight };
}
