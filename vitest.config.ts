import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Integration and e2e suites bind real sockets and start processes: keep files sequential on a 2-core box.
    fileParallelism: false,
    reporters: ['default'],
    // Lists the groups skipped for want of a real peer (Kamailio, rtpengine, SIPp, …) after the run.
    globalSetup: ['test/peers-global-setup.ts'],
  },
});
