import { getCSeq, getCallId, getContacts, getFrom, getRecordRoutes, getTo, type SipHeader, type SipRequest, type SipResponse } from './message.js';
import { createRequest } from './build.js';
import { parseUri, type SipUri } from './uri.js';
import type { SipEndpoint, TransportProtocol } from './transport/types.js';

/**
 * Dialog state (RFC 3261 §12): the identifiers, the route set, the remote target and both CSeq
 * spaces. A B2BUA holds two of these per call: one as UAS (leg A), one as UAC (leg B).
 */
export interface Dialog {
  callId: string;
  localTag: string;
  remoteTag: string;
  /** From/To values without their tag, as they go in requests we send (§12.2.1.1). */
  localParty: string;
  remoteParty: string;
  localSeq: number;
  /** highest CSeq seen from the peer; undefined until it sends an in-dialog request (UAC side). */
  remoteSeq: number | undefined;
  /** Request-URI of requests we send: the peer's Contact (§12.1.1, updated by target refresh). */
  remoteTarget: string;
  /** Route values in the order requests carry them. */
  routeSet: string[];
}

function stripTag(value: string): string {
  return value.replace(/;\s*tag\s*=\s*[^;,\s]+/i, '');
}

function contactUri(msg: SipRequest | SipResponse): string | undefined {
  const contacts = getContacts(msg);
  if (contacts === '*' || contacts.length === 0) return undefined;
  return contacts[0].uriText;
}

function headerValue(msg: SipRequest | SipResponse, name: 'From' | 'To'): string {
  const h = msg.headers.find((x) => {
    const n = x.name.toLowerCase();
    return name === 'From' ? n === 'from' || n === 'f' : n === 'to' || n === 't';
  });
  return h?.value ?? '';
}

/** The UAS side of a dialog created by an INVITE we answer with `localTag` (§12.1.1). */
export function uasDialog(invite: SipRequest, localTag: string): Dialog {
  return {
    callId: getCallId(invite) ?? '',
    localTag,
    remoteTag: getFrom(invite)?.tag ?? '',
    localParty: stripTag(headerValue(invite, 'To')),
    remoteParty: stripTag(headerValue(invite, 'From')),
    localSeq: Math.floor(Math.random() * 10_000) + 1,
    remoteSeq: getCSeq(invite)?.seq ?? 0,
    remoteTarget: contactUri(invite) ?? invite.uri,
    routeSet: getRecordRoutes(invite).map((r) => r.uriText).map((u) => `<${u}>`),
  };
}

/** The UAC side of a dialog created by a response to an INVITE we sent (§12.1.2: route set reversed). */
export function uacDialog(invite: SipRequest, response: SipResponse): Dialog {
  return {
    callId: getCallId(invite) ?? '',
    localTag: getFrom(invite)?.tag ?? '',
    remoteTag: getTo(response)?.tag ?? '',
    localParty: stripTag(headerValue(invite, 'From')),
    remoteParty: stripTag(headerValue(invite, 'To')),
    localSeq: getCSeq(invite)?.seq ?? 1,
    remoteSeq: undefined,
    remoteTarget: contactUri(response) ?? invite.uri,
    routeSet: getRecordRoutes(response).map((r) => `<${r.uriText}>`).reverse(),
  };
}

/** A target refresh (re-INVITE, UPDATE, or their 2xx) replaces the remote target (§12.2). */
export function refreshTarget(dialog: Dialog, msg: SipRequest | SipResponse): void {
  const c = contactUri(msg);
  if (c !== undefined) dialog.remoteTarget = c;
}

/**
 * Checks an in-dialog request's CSeq against the remote sequence (§12.2.2): lower than the last
 * one is out of order (answer 500). ACK and CANCEL reuse their INVITE's number.
 */
export function acceptRemoteCSeq(dialog: Dialog, req: SipRequest): boolean {
  const seq = getCSeq(req)?.seq;
  if (seq === undefined) return false;
  if (req.method === 'ACK' || req.method === 'CANCEL') return true;
  if (dialog.remoteSeq !== undefined && seq <= dialog.remoteSeq) return false;
  dialog.remoteSeq = seq;
  return true;
}

export interface InDialogRequestParts {
  method: string;
  via: string;
  contact?: string;
  headers?: SipHeader[];
  body?: Buffer;
  /** for ACK: the INVITE's CSeq number (§13.2.2.4); otherwise the dialog's next local CSeq is used. */
  cseq?: number;
}

/**
 * A request within the dialog (§12.2.1.1), loose routing only: the Request-URI is the remote
 * target and the route set goes in Route headers. A strict-routing first hop (no `lr`) is not
 * supported: every router since RFC 3261 loose-routes.
 */
export function dialogRequest(dialog: Dialog, parts: InDialogRequestParts): SipRequest {
  let seq: number;
  if (parts.cseq !== undefined) seq = parts.cseq;
  else seq = ++dialog.localSeq;
  const headers: SipHeader[] = [
    { name: 'Via', value: parts.via },
    ...dialog.routeSet.map((r) => ({ name: 'Route', value: r })),
    { name: 'Max-Forwards', value: '70' },
    { name: 'From', value: `${dialog.localParty};tag=${dialog.localTag}` },
    { name: 'To', value: `${dialog.remoteParty};tag=${dialog.remoteTag}` },
    { name: 'Call-ID', value: dialog.callId },
    { name: 'CSeq', value: `${seq} ${parts.method}` },
  ];
  if (parts.contact !== undefined) headers.push({ name: 'Contact', value: parts.contact });
  headers.push(...(parts.headers ?? []));
  return createRequest(parts.method, dialog.remoteTarget, headers, parts.body);
}

/**
 * Where a SIP URI inside a dialog says to send: its host must be an IP literal (only route targets
 * and X-Outbound-Proxy are resolved, by b2bua/resolve.ts: a peer's Contact naming a host is not
 * followed), port defaults 5060 (5061 for TLS), transport from `;transport=` or sips:.
 */
export function uriEndpoint(uriText: string, fallbackProtocol: TransportProtocol = 'udp'): SipEndpoint | undefined {
  const r = parseUri(uriText.replace(/^<|>$/g, ''));
  if (!r.ok || r.uri.type !== 'sip') return undefined;
  const uri: SipUri = r.uri;
  const host = uri.host.replace(/^\[|\]$/g, '');
  if (!/^[0-9.]+$/.test(host) && !host.includes(':')) return undefined;
  const tp = uri.params.find((p) => p.name.toLowerCase() === 'transport')?.value?.toLowerCase();
  const protocol: TransportProtocol = uri.secure ? 'tls' : tp === 'tcp' || tp === 'tls' || tp === 'udp' ? tp : fallbackProtocol;
  return { protocol, address: host, port: uri.port ?? (protocol === 'tls' ? 5061 : 5060) };
}

/** Where in-dialog requests go: the first route if there is one, else the remote target. */
export function dialogDestination(dialog: Dialog, fallbackProtocol: TransportProtocol): SipEndpoint | undefined {
  return uriEndpoint(dialog.routeSet[0] ?? dialog.remoteTarget, fallbackProtocol);
}
