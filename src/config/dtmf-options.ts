import { TandemError } from '../common/errors.js';

/** DTMF handling in the media plane, in rtpengine's option names. */
export interface DtmfConfig {
  /** rtpengine's `--dtmf-no-suppress`: audio sent during a DTMF event is forwarded, not held back, when transcoding. */
  dtmfNoSuppress: boolean;
}

type DtmfKey = keyof DtmfConfig;

export const DTMF_OPTIONS: readonly { key: DtmfKey; name: string; arg: string; help: string }[] = [
  { key: 'dtmfNoSuppress', name: 'dtmf-no-suppress', arg: 'yes|no', help: 'when transcoding, forward the audio a leg sends during a DTMF event (telephone-event or in-band) instead of holding it back (default no)' },
];

export function dtmfDefaults(): DtmfConfig {
  return { dtmfNoSuppress: false };
}

export function isDtmfKey(key: string): key is DtmfKey {
  return DTMF_OPTIONS.some((o) => o.key === key);
}

export function applyDtmfOption(cfg: DtmfConfig, key: DtmfKey, name: string, v: string, where: string): void {
  const yes = ['yes', 'on', 'true', '1'].includes(v.trim().toLowerCase());
  const no = ['no', 'off', 'false', '0'].includes(v.trim().toLowerCase());
  if (!yes && !no) throw new TandemError('CONFIG', `${where}${name}: "${v}" is not yes or no`);
  if (key === 'dtmfNoSuppress') cfg.dtmfNoSuppress = yes;
}
