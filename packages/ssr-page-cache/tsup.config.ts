import { defineConfig } from 'tsup';

// The package: its main entry and the Redis tier on its own, as CommonJS and ESM with declarations for each.
export default defineConfig({
  entry: { index: 'src/index.ts', 'redis-tier': 'src/redis-tier.ts' },
  outDir: 'dist',
  format: ['cjs', 'esm'],
  outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.mjs' }),
  dts: { compilerOptions: { module: 'esnext', moduleResolution: 'bundler' } },
  target: 'node20',
  platform: 'node',
  sourcemap: false,
  clean: true,
  splitting: false,
});
