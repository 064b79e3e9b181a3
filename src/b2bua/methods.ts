/**
 * What the B2BUA does with each method, in one place: every Allow header (RFC 3261 §20.5: the
 * methods the UA supports where the request was aimed) is derived from here, so no response can
 * advertise a method the same request context would refuse.
 *
 * - In a dialog: re-INVITE/UPDATE re-run the offer/answer, BYE ends the call, and INFO, MESSAGE,
 *   OPTIONS and NOTIFY are relayed to the other leg (call.ts).
 * - Outside a dialog: INVITE makes a call, CANCEL cancels one, OPTIONS is answered here; ACK is
 *   not answered but is accepted. BYE, INFO, UPDATE and NOTIFY need a dialog (481); MESSAGE and
 *   the rest are refused with 405, and so is REGISTER unless the registrar is on (`--registrar`).
 */
export const IN_DIALOG_METHODS: readonly string[] = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'INFO', 'UPDATE', 'MESSAGE', 'NOTIFY'];
export const OUT_OF_DIALOG_METHODS: readonly string[] = ['INVITE', 'ACK', 'CANCEL', 'OPTIONS'];

/** Allow for a dialog-creating response, a request inside a dialog, or a 405/501 to one. */
export const ALLOW = IN_DIALOG_METHODS.join(', ');
/** Allow for a response to a request outside any dialog (OPTIONS 200, 405, 501). */
export const ALLOW_OUT_OF_DIALOG = OUT_OF_DIALOG_METHODS.join(', ');

/** Out-of-dialog Allow when the registrar (edge/registrar.ts) is on: REGISTER is handled then. */
export function allowOutOfDialog(registrar: boolean): string {
  return registrar ? [...OUT_OF_DIALOG_METHODS, 'REGISTER'].join(', ') : ALLOW_OUT_OF_DIALOG;
}
