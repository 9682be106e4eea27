// Lint: typescript-eslint strict + type-checked, exhaustive switches, and the determinism firewall:
// model code (everything under src/ but the CLI and the I/O modules) never reads wall-clock time,
// Math.random, timers or the environment.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const determinism = {
  'no-restricted-properties': [
    'error',
    { object: 'Math', property: 'random', message: 'Use the seeded Chooser (src/sim/random.ts).' },
    { object: 'Date', property: 'now', message: 'Use the virtual clock (sim.now).' },
    { object: 'performance', property: 'now', message: 'Use the virtual clock (sim.now).' },
    { object: 'process', property: 'env', message: 'Model code takes its configuration from the scenario.' },
    { object: 'process', property: 'hrtime', message: 'Use the virtual clock (sim.now).' },
  ],
  'no-restricted-globals': [
    'error',
    { name: 'setTimeout', message: 'Use the engine (sim.schedule).' },
    { name: 'setInterval', message: 'Use the engine (sim.schedule).' },
    { name: 'setImmediate', message: 'Use the engine (sim.schedule).' },
  ],
  'no-restricted-syntax': [
    'error',
    { selector: "NewExpression[callee.name='Date']", message: 'Use the virtual clock (sim.now).' },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'dist-check/**', 'node_modules/**', 'coverage/**', '**/*.js', '**/*.mjs'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/prefer-literal-enum-member': 'off',
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['src/**/*.ts'],
    // Host-side orchestration, never reached by the model: the pool yields to the event loop between
    // jobs (setImmediate), the progress bar measures wall time for its rate.
    ignores: ['src/cli/**', 'src/io/**', 'src/parallel/pool.ts', 'src/parallel/progress.ts'],
    rules: determinism,
  },
  {
    files: ['test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-confusing-void-expression': 'off',
    },
  },
);
