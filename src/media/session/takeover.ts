import type { Logger } from '../../common/log.js';
import { createDtlsCertificate, type DtlsCertificate } from '../rtp/dtls.js';
import type { CallMedia, MediaCall } from './call.js';
import { decodeCertificate, decodeSnapshot, restoreMediaState, type CertificateStore, type MediaSnapshot } from './snapshot.js';

/** What a takeover needs of LocalMedia: its registry, workers and ports, seen through a narrow door. */
export interface TakeoverHost {
  has(callId: string): boolean;
  newCall(callId: string, fromTag: string): MediaCall;
  /** Binds a bridge on the snapshot's own ports and registers it with the call. */
  bind(call: MediaCall, media: MediaSnapshot): Promise<CallMedia>;
  configure(call: MediaCall): Promise<void>;
  teardown(call: MediaCall): Promise<unknown>;
  log: Logger;
}

/**
 * Takes over sessions another process wrote (`--redis`): each call gets a worker, its bridges are
 * bound on the ports it had and configured from its state, so peers that keep sending reach it.
 * A session that cannot be restored (unreadable, ports taken) is logged and `dropped(i)` is called,
 * so the store can forget it.
 */
export async function restoreCalls(host: TakeoverHost, snapshots: string[], dropped?: (index: number) => void): Promise<{ restored: number; failed: number }> {
  let restored = 0;
  let failed = 0;
  for (const [i, text] of snapshots.entries()) {
    let callId = '?';
    try {
      const s = decodeSnapshot(text);
      callId = s.callId;
      if (host.has(s.callId)) continue;
      const call = host.newCall(s.callId, s.tags[0] ?? '');
      call.tags = s.tags;
      call.labels = s.labels;
      if (s.echo !== undefined) call.echo = s.echo;
      if (s.offerGroups !== undefined) call.offerGroups = s.offerGroups;
      if (s.interfaces !== undefined) call.interfaces = s.interfaces;
      // configure() sends it to the restored bridges (media-control.ts, syncControl).
      if (s.blocking !== undefined) call.blocking = s.blocking;
      try {
        for (const ms of s.medias) {
          const media = await host.bind(call, ms);
          restoreMediaState(media, ms);
          call.medias.push(media);
        }
        await host.configure(call);
      } catch (err) {
        await host.teardown(call);
        throw err;
      }
      call.log.info({ medias: call.medias.length, ports: call.medias.map((m) => m.ports[0]) }, 'media session taken over');
      restored++;
    } catch (err) {
      failed++;
      host.log.warn({ callId, err }, 'media session could not be taken over; dropped');
      dropped?.(i);
    }
  }
  return { restored, failed };
}

/** The stored DTLS certificate (`--redis`), else a new one, stored for the next process. */
export async function processCertificate(store: CertificateStore | undefined): Promise<DtlsCertificate> {
  const kept = decodeCertificate(await store?.load());
  if (kept !== undefined) return kept;
  const made = await createDtlsCertificate();
  store?.save(JSON.stringify(made));
  return made;
}
