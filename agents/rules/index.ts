export * from './critic.ts';
export { createRulesBackend, rulesPrompt, rulesVersion, RULES_BACKEND, RULES_MODEL, RULES_DESCRIPTION } from './backend.ts';
