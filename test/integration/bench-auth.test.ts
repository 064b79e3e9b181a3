import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RunningTandem } from '../../src/main.js';
import type { TandemConfig } from '../../src/config/config.js';
import { withPassword } from '../../src/edge/auth-users.js';
import { Uac, Uas } from '../../bench/lib/sip-ua.js';
import { buildSdp } from '../../bench/lib/sdp.js';
import { startB2bua } from '../helpers/b2bua-env.js';

/**
 * The bench's `--auth` caller (bench/lib/sip-ua.ts + sip-digest.ts) against a real B2BUA with
 * digest authentication on, over loopback UDP: INVITE → 407 → ACK → INVITE with
 * Proxy-Authorization → 200 → ACK, then BYE without credentials (in-dialog: never challenged).
 */
const REALM = 'bench';
let tandem: RunningTandem | undefined;
let sip: { address: string; port: number };
let uac: Uac;
let uas: Uas;
let dir: string;

beforeEach(async () => {
  uac = await new Uac().open();
  uas = await new Uas().open();
  uas.answerer = () => buildSdp({ sessionId: 2, port: 9, codec: 'PCMU', ptime: 20 });
  dir = mkdtempSync(join(tmpdir(), 'bench-auth-test-'));
});

afterEach(async () => {
  uac.close();
  uas.close();
  await tandem?.close();
  tandem = undefined;
  rmSync(dir, { recursive: true, force: true });
});

async function start(algorithms: TandemConfig['authAlgorithms']): Promise<void> {
  const users = join(dir, 'users');
  writeFileSync(users, withPassword('', 'bench', REALM, 'pw-right'));
  ({ tandem, sip } = await startB2bua({ route: `sip:127.0.0.1:${uas.port}`, authUsers: users, realm: REALM, authAlgorithms: algorithms }));
}

/** The B2BUA answers leg A's BYE and sends its own on leg B: wait for it there (bounded: 50 × 20 ms). */
async function byeAtCallee(n: number): Promise<void> {
  for (let i = 0; i < 50 && uas.byes < n; i++) await new Promise((r) => setTimeout(r, 20));
  expect(uas.byes).toBe(n);
}

const offer = (): string => buildSdp({ sessionId: 1, port: 9, codec: 'PCMU', ptime: 20 });

describe('bench caller with --auth through the B2BUA', () => {
  for (const algorithms of [['SHA-256', 'MD5'], ['MD5']] as TandemConfig['authAlgorithms'][]) {
    it(`answers the 407 (${algorithms.join(',')}), completes the call and BYEs it without credentials`, async () => {
      await start(algorithms);
      uac.credentials = { user: 'bench', password: 'pw-right' };
      const { dialog } = await uac.invite({ proxy: sip, user: 'bench-1', callId: `a-${algorithms.length}@bench`, sdp: offer() });
      expect(uac.challenges).toBe(1);
      expect(dialog.cseq).toBe(2); // the retried INVITE's CSeq; the BYE takes 3
      await uac.bye(dialog); // rejects unless answered 2xx
      await byeAtCallee(1);
    });
  }

  it('fails the call on a 407 without credentials, and after one answer with a wrong password (positive control: the right one passes)', async () => {
    await start(['SHA-256', 'MD5']);
    await expect(uac.invite({ proxy: sip, user: 'bench-2', callId: 'b1@bench', sdp: offer() })).rejects.toThrow(/INVITE answered 407/);
    expect(uac.challenges).toBe(0);
    uac.credentials = { user: 'bench', password: 'pw-wrong' };
    await expect(uac.invite({ proxy: sip, user: 'bench-2', callId: 'b2@bench', sdp: offer() })).rejects.toThrow(/INVITE answered 407/);
    expect(uac.challenges).toBe(1); // answered once, not in a loop
    uac.credentials = { user: 'bench', password: 'pw-right' };
    const { dialog } = await uac.invite({ proxy: sip, user: 'bench-2', callId: 'b3@bench', sdp: offer() });
    await uac.bye(dialog);
    await byeAtCallee(1);
  });
});
