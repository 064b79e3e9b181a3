import { TandemError } from '../common/errors.js';
import { wholeNumber as whole } from './values.js';

/** The registrar and location service (src/edge/registrar.ts). */
export interface RegistrarConfig {
  /** REGISTER handled by the registrar; undefined = off (auth turns it on by default). */
  registrar?: boolean;
  /** Registrar intervals, seconds: shortest granted (shorter → 423), longest granted, and the default. */
  registrarMinExpires: number;
  registrarMaxExpires: number;
  registrarDefaultExpires: number;
  /** Percent taken off a granted interval at random (0–50), so refreshes spread out. */
  registrarExpiryJitter: number;
  registrarMaxBindingsPerAor: number;
  registrarMaxBindings: number;
}

type RegistrarKey = keyof RegistrarConfig;

export const REGISTRAR_OPTIONS: readonly { key: RegistrarKey; name: string; arg: string; help: string }[] = [
  { key: 'registrar', name: 'registrar', arg: 'on|off', help: 'answer REGISTER and keep a location service for routes with target "registered" (default off; without authentication only --trusted sources may register)' },
  { key: 'registrarMinExpires', name: 'registrar-min-expires', arg: 'SECONDS', help: 'shortest registration granted; a shorter one gets 423 Interval Too Brief (default 60)' },
  { key: 'registrarMaxExpires', name: 'registrar-max-expires', arg: 'SECONDS', help: 'longest registration granted; a longer one is shortened (default 3600)' },
  { key: 'registrarDefaultExpires', name: 'registrar-default-expires', arg: 'SECONDS', help: 'registration interval when the REGISTER names none (default 3600)' },
  { key: 'registrarExpiryJitter', name: 'registrar-expiry-jitter', arg: 'PERCENT', help: 'up to this much is taken off a granted interval at random, so refreshes spread out (default 10, 0–50)' },
  { key: 'registrarMaxBindingsPerAor', name: 'registrar-max-bindings-per-aor', arg: 'INT', help: 'contacts one address-of-record may register; more are refused 403 (default 10)' },
  { key: 'registrarMaxBindings', name: 'registrar-max-bindings', arg: 'INT', help: 'registered contacts in all; more are refused 503 (default 100000)' },
];

export function registrarDefaults(): RegistrarConfig {
  return {
    registrarMinExpires: 60,
    registrarMaxExpires: 3600,
    registrarDefaultExpires: 3600,
    registrarExpiryJitter: 10,
    registrarMaxBindingsPerAor: 10,
    registrarMaxBindings: 100_000,
  };
}

export function isRegistrarKey(key: string): key is RegistrarKey {
  return REGISTRAR_OPTIONS.some((o) => o.key === key);
}

export function applyRegistrarOption(cfg: RegistrarConfig, key: RegistrarKey, name: string, v: string, where: string): void {
  switch (key) {
    case 'registrar':
      if (!/^(on|off|yes|no)$/i.test(v)) throw new TandemError('CONFIG', `${where}${name}: "${v}" must be on or off`);
      cfg.registrar = /^(on|yes)$/i.test(v);
      return;
    case 'registrarMinExpires':
      cfg.registrarMinExpires = whole(where, name, v, 1, 86_400);
      return;
    case 'registrarMaxExpires':
      cfg.registrarMaxExpires = whole(where, name, v, 1, 604_800);
      return;
    case 'registrarDefaultExpires':
      cfg.registrarDefaultExpires = whole(where, name, v, 1, 604_800);
      return;
    case 'registrarExpiryJitter':
      cfg.registrarExpiryJitter = whole(where, name, v, 0, 50);
      return;
    case 'registrarMaxBindingsPerAor':
      cfg.registrarMaxBindingsPerAor = whole(where, name, v, 1, 1000);
      return;
    case 'registrarMaxBindings':
      cfg.registrarMaxBindings = whole(where, name, v, 1, 10_000_000);
  }
}

/** Checks across the registrar's options. */
export function validateRegistrar(cfg: RegistrarConfig): void {
  if (cfg.registrarMinExpires > cfg.registrarMaxExpires)
    throw new TandemError('CONFIG', `--registrar-min-expires (${cfg.registrarMinExpires}) is above --registrar-max-expires (${cfg.registrarMaxExpires})`);
  if (cfg.registrarDefaultExpires < cfg.registrarMinExpires || cfg.registrarDefaultExpires > cfg.registrarMaxExpires)
    throw new TandemError('CONFIG', `--registrar-default-expires (${cfg.registrarDefaultExpires}) must be within --registrar-min-expires and --registrar-max-expires`);
}
