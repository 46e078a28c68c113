import type { Config } from 'jest';

const config: Config = {
  testEnvironment: 'node',
  roots: ['<rootDir>/server', '<rootDir>/packages/ssr-page-cache', '<rootDir>/test', '<rootDir>/examples'],
  // The library by its name, from its source (tsconfig.json's paths say the same to tsc and tsx).
  moduleNameMapper: {
    '^ssr-page-cache$': '<rootDir>/packages/ssr-page-cache/src/index.ts',
    '^ssr-page-cache/redis-tier$': '<rootDir>/packages/ssr-page-cache/src/redis-tier.ts',
  },
  modulePathIgnorePatterns: ['<rootDir>/packages/ssr-page-cache/dist'],
  testMatch: ['**/*.test.ts', '**/*.test.tsx'],
  transform: {
    '^.+\\.(t|j)sx?$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', tsx: true },
          transform: { react: { runtime: 'automatic' } },
          target: 'es2022',
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  globalSetup: '<rootDir>/test/global-setup.ts',
  globalTeardown: '<rootDir>/test/global-teardown.ts',
  // Integration suites share one Redis server; a few workers keep the run short on 2 cores.
  maxWorkers: 2,
  testTimeout: 30_000,
};

export default config;
