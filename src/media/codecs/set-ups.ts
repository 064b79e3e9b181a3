/**
 * The one-time set-ups this thread has done (a wasm module compiled, a wasm library loaded), in
 * order. A media worker does them all in its warm-up, before it says it is ready; one that shows up
 * later was paid for by a call (the worker reports the list, so tests and operators can see which).
 */
const done: string[] = [];

export function noteSetUp(what: string): void {
  done.push(what);
}

export function setUpsDone(): readonly string[] {
  return done;
}
