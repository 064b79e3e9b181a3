import { TandemError } from '../common/errors.js';

/** Digest authentication (src/edge/auth.ts). */
export interface AuthConfig {
  /** users file; set = every caller that is not trusted must authenticate. */
  authUsers?: string;
  /** realm of the challenges; undefined = the first SIP listener's address, or "tandem". */
  realm?: string;
  /** challenges offered, in order. */
  authAlgorithms: ('SHA-256' | 'MD5')[];
}

type AuthKey = keyof AuthConfig;

export const AUTH_OPTIONS: readonly { key: AuthKey; name: string; arg: string; help: string }[] = [
  { key: 'authUsers', name: 'auth-users', arg: 'FILE', help: 'digest authentication: users file of user:realm:HA1 and user:realm:SHA-256:HA1 lines (see tandem passwd); every caller not --trusted must authenticate (default: off)' },
  { key: 'realm', name: 'realm', arg: 'TEXT', help: 'digest realm of the challenges (default: the first SIP listener\'s address, or tandem)' },
  { key: 'authAlgorithms', name: 'auth-algorithms', arg: 'LIST', help: 'digest challenges offered, in order (default SHA-256,MD5; MD5 alone for clients that answer only the first challenge, such as SIPp 3.6)' },
];

export function authDefaults(): AuthConfig {
  return { authAlgorithms: ['SHA-256', 'MD5'] };
}

export function isAuthKey(key: string): key is AuthKey {
  return AUTH_OPTIONS.some((o) => o.key === key);
}

export function applyAuthOption(cfg: AuthConfig, key: AuthKey, name: string, v: string, where: string): void {
  switch (key) {
    case 'authUsers':
      if (v === '') throw new TandemError('CONFIG', `${where}${name}: needs a file name`);
      cfg.authUsers = v;
      return;
    case 'realm':
      // It is sent as a quoted-string and stored in users-file lines split on ":".
      if (!/^[\x21-\x7e][\x20-\x7e]{0,127}$/.test(v) || /[:"\\]/.test(v)) throw new TandemError('CONFIG', `${where}${name}: "${v}" must be 1–128 printable ASCII characters without : " or \\`);
      cfg.realm = v;
      return;
    case 'authAlgorithms': {
      const algs = v.split(',').map((a) => a.trim()).filter((a) => a !== '').map((a) => (a.toUpperCase() === 'MD5' ? 'MD5' : a.toUpperCase() === 'SHA-256' ? 'SHA-256' : a));
      if (algs.length === 0 || new Set(algs).size !== algs.length || algs.some((a) => a !== 'SHA-256' && a !== 'MD5')) throw new TandemError('CONFIG', `${where}${name}: "${v}" must list SHA-256 and/or MD5, each once`);
      cfg.authAlgorithms = algs as ('SHA-256' | 'MD5')[];
    }
  }
}
