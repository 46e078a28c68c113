import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

const engine = 'packages/ssr-page-cache/src';

/** Imports that leave the engine's folder: the engine knows nothing of its hosts. */
const leavesEngine = (depth) => ({
  patterns: [
    {
      group: [`${'../'.repeat(depth)}*`, `${'../'.repeat(depth)}`],
      message: 'The library (packages/ssr-page-cache/src) imports nothing outside its folder: take it as an option instead.',
    },
  ],
});

export default tseslint.config(
  { ignores: ['dist/**', '**/dist/**', 'node_modules/**', 'coverage/**', 'bench/results/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: { ecmaVersion: 2022, sourceType: 'module' },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'error',
    },
  },
  // The boundary: the engine reads no environment and imports nothing of the host.
  {
    files: [`${engine}/*.ts`],
    rules: { 'no-restricted-imports': ['error', leavesEngine(1)] },
  },
  {
    files: [`${engine}/*/*.ts`],
    rules: { 'no-restricted-imports': ['error', leavesEngine(2)] },
  },
  {
    files: [`${engine}/**/*.ts`],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: 'The engine reads no environment: the host maps its env vars to options.',
        },
      ],
      'no-restricted-globals': ['error', { name: 'process', message: 'The engine reads no process state: take it as an option.' }],
    },
  },
  // Hosts use the library by its name only: 'ssr-page-cache' (and 'ssr-page-cache/redis-tier').
  {
    files: ['server/**/*.ts', 'server/**/*.tsx', 'examples/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/packages/**', '**/ssr-page-cache/src/**', '**/page-cache/*'],
              message: "A host imports the library by its name ('ssr-page-cache') only.",
            },
          ],
        },
      ],
    },
  },
  // The benchmarks measure the shipped code with their own tools, not the test helpers.
  {
    files: ['bench/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/test/**', '../test', '../../test'], message: 'The bench imports no test helpers (shared tools live in tools/).' }] },
      ],
    },
  },
  {
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        console: 'readonly',
        __dirname: 'readonly',
        fetch: 'readonly',
        setTimeout: 'readonly',
      },
    },
  },
  {
    files: ['**/*.mjs'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', fetch: 'readonly', URL: 'readonly', setTimeout: 'readonly' } },
  },
);
