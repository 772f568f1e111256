import { defineConfig } from 'vitest/config';

// The browser game lives in game/ and is built into game/dist, which the relay serves.
// The same file configures vitest for every suite under test/.
export default defineConfig({
  root: 'game',
  base: './',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 2000,
  },
  test: {
    root: '.',
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
