import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const src = (file: string): string => fileURLToPath(new URL(`./src/${file}`, import.meta.url));
// CI runs the kubernetes tests a second time against client-node 2.x (it loads on Node 24 only),
// installed apart: CLIENT_NODE_DIR is that install's node_modules/@kubernetes/client-node.
const clientNode = process.env['CLIENT_NODE_DIR'];

export default defineConfig({
  resolve: {
    // Tests import the package by its public names, resolved to the sources.
    alias: [
      { find: /^ridethrough$/, replacement: src('index.ts') },
      { find: /^ridethrough\/(.*)$/, replacement: src('$1/index.ts') },
      ...(clientNode === undefined ? [] : [{ find: /^@kubernetes\/client-node$/, replacement: clientNode }]),
    ],
  },
  test: {
    include: ['test/**/*.test.ts'],
    typecheck: {
      enabled: true,
      include: ['test/**/*.test-d.ts'],
      tsconfig: './tsconfig.json',
    },
    // Real timers, real files, real sockets: give slow, shared machines room.
    testTimeout: 30_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
