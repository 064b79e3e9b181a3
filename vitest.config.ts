import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Integration and e2e suites bind real sockets and start processes: keep files sequential on a 2-core box.
    fileParallelism: false,
    reporters: ['default'],
  },
});
