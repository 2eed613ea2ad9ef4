// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/**', '.data/**', 'tests/fixtures/**', 'coverage/**', 'dist/**', 'bin/**', 'web/dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': [
        'error',
        {
          selector: "CallExpression[callee.object.name='JSON'][callee.property.name='parse']",
          message: 'Use parseJson() from contracts/parse.ts: it returns a result instead of throwing.',
        },
      ],
    },
  },
  {
    files: ['contracts/parse.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['risk/**/*.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'risk/ is pure: take `now` as an argument.' },
        { object: 'Math', property: 'random', message: 'risk/ is pure: no randomness.' },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: "NewExpression[callee.name='Date'][arguments.length=0]", message: 'risk/ is pure: take `now` as an argument.' },
      ],
    },
  },
);
