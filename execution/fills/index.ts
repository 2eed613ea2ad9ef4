export { riskCheck, allowsOrder } from './risk-check.ts';
