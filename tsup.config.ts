import { defineConfig } from 'tsup';

// The package: the engine alone, as CommonJS and ESM with declarations for each.
export default defineConfig({
  entry: { index: 'server/page-cache/index.ts' },
  outDir: 'dist/server/page-cache',
  format: ['cjs', 'esm'],
  outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.mjs' }),
  dts: { compilerOptions: { module: 'esnext', moduleResolution: 'bundler' } },
  target: 'node20',
  platform: 'node',
  sourcemap: false,
  clean: false,
  splitting: false,
});
