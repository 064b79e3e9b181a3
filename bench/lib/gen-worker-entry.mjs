// Bootstrap of a generator worker thread (gen-pool.ts): the bench runs from TypeScript sources under tsx,
// and a worker thread does not inherit tsx's loader, so it registers it before loading the worker.
import { register } from 'tsx/esm/api';

register();
await import('./gen-worker.ts');
