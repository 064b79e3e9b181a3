// Development bootstrap: lets the pool start the TypeScript worker entry under vitest/tsx.
// Compiled builds load dist/media/worker/entry.js directly and never use this file.
import { register } from 'tsx/esm/api';

register();
await import('./entry.ts');
