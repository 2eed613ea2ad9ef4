import type { LangGraphRunnableConfig } from '@langchain/langgraph';
import type { BaseCheckpointSaver } from '@langchain/langgraph-checkpoint';
import type { Config } from '../config/index.ts';
import { QuorumError, type Proposal, type RiskDecision, type Verdict } from '../contracts/index.ts';
import type { Db } from '../db/index.ts';
import { marketSnapshot } from '../market/index.ts';
import { decide, decideWithBreakers, type CircuitBreakerRules, type ClosedTrade, type DecideInput } from '../risk/index.ts';
import { breakerRules, loadClosedTrades, recordBreakerTrip } from './breakers.ts';
import { ApprovalAnswer, approvalIdOf, pendingApproval, recordApprovalAnswer, requestApproval } from './approvals.ts';
import type { Broker } from './broker.ts';
import { intentFromDecision, recordRiskDecision, submitIntent, type SubmitOutcome } from './orders.ts';
import { buildPortfolioSnapshot } from './portfolio.ts';

/** What the order stage needs: the database, the configuration, the broker, a checkpointer and the decision clock. */
export interface OrderStageEnv {
  db: Db;
  config: Config;
  broker: Broker;
  checkpointer: BaseCheckpointSaver;
  /** The decision clock (ISO): the wall clock live, the session's as-of for a past session. */
  now: () => string;
}

/** A judged proposal entering the order stage. */
export interface OrderStageInput {
  sessionId: string;
  proposal: Proposal;
  verdict: Verdict;
  runId: string | null;
}

/** The order stage's state: one LangGraph channel (last value wins) per field. */
interface OrderStateValue {
  sessionId: string;
  proposal: Proposal;
  verdict: Verdict;
  runId: string | null;
  decision: RiskDecision | null;
  approval: (ApprovalAnswer & { id: string }) | null;
  order: SubmitOutcome | null;
}
type NodeConfig = LangGraphRunnableConfig;

/** The thread of a proposal's order stage (one per proposal, so a resume finds it). */
export const orderThreadId = (proposalId: string): string => `ord_${proposalId}`;

/** True when a decision lets an order through (ALLOW or RESIZE with a positive quantity). */
export const allowsOrder = (d: RiskDecision | null): d is RiskDecision => d !== null && d.action !== 'DENY' && d.finalQty > 0;

/**
 * The stage's risk check on given snapshots: risk/ `decide`, the last word. The order stage's
 * risk_check node calls it with the stored book and market; the backtest with its simulated books.
 */
/**
 * With `breakers` (the closed trades and settings.circuitBreakers with the halted models), the
 * circuit breakers raise the trading state first (risk/ decideWithBreakers).
 */
export function riskCheck(input: DecideInput, breakers?: { trades: readonly ClosedTrade[]; rules: CircuitBreakerRules }): RiskDecision {
  return breakers ? decideWithBreakers(input, breakers.trades, breakers.rules).decision : decide(input);
}

function envOf(config: NodeConfig): OrderStageEnv {
  const context: { env?: OrderStageEnv } | undefined = config.context;
  const env = context?.env;
  if (!env) throw new QuorumError('INTERNAL', 'an order-stage node ran without its environment');
  return env;
}

/** risk/ disposes: the controller's decision on the verdict, with the portfolio and market as of now. */
async function riskCheckNode(s: OrderStateValue, config: NodeConfig): Promise<Partial<OrderStateValue>> {
  const env = envOf(config);
  // Stale or missing account data fails closed inside risk/ (a null portfolio means HALTED).
  const portfolio = await buildPortfolioSnapshot(env.db, env.broker, env.config, { asOf: env.now() }).catch(() => null);
  const market = await marketSnapshot(env.db, s.proposal.ticker, s.proposal.asOf, env.config.settings);
  // The circuit breakers read the closed trades in the database and the per-model kill switch.
  const [trades, breakers] = await Promise.all([loadClosedTrades(env.db), breakerRules(env.db, env.config)]);
  // A trip is audited (`breaker.tripped`, notified) by the first risk check that sees it.
  await recordBreakerTrip(env.db, trades, breakers);
  const decision = riskCheck(
    { verdict: s.verdict, proposal: s.proposal, portfolio, market, rules: env.config.riskRules, now: env.now() },
    { trades, rules: breakers },
  );
  await recordRiskDecision(env.db, decision);
  return { decision };
}

/** With execution.requireApproval, an allowed order waits for a human (a LangGraph interrupt). */
async function humanApproval(s: OrderStateValue, config: NodeConfig, interrupt: (value: unknown) => unknown): Promise<Partial<OrderStateValue>> {
  const env = envOf(config);
  if (!env.config.settings.execution.requireApproval || !allowsOrder(s.decision)) return {};
  const id = approvalIdOf(s.decision.id);
  // Idempotent: on resume the node runs again from its start, and the row is already there.
  await requestApproval(env.db, {
    id,
    runId: s.runId,
    verdictId: s.verdict.id,
    decisionId: s.decision.id,
    ticker: s.proposal.ticker,
    side: s.decision.side,
    qty: s.decision.finalQty,
  });
  const answer = ApprovalAnswer.parse(interrupt({ approvalId: id, ticker: s.proposal.ticker, side: s.decision.side, qty: s.decision.finalQty }));
  await recordApprovalAnswer(env.db, id, answer);
  return { approval: { ...answer, id } };
}

/** The intent of an allowed (and, where required, approved) decision goes to the broker, idempotently. */
async function placeOrder(s: OrderStateValue, config: NodeConfig): Promise<Partial<OrderStateValue>> {
  const env = envOf(config);
  if (!allowsOrder(s.decision)) return { order: null };
  if (env.config.settings.execution.requireApproval && !s.approval?.approve) return { order: null };
  const intent = intentFromDecision(s.decision, s.sessionId, { now: env.now() });
  return { order: await submitIntent(env.db, env.broker, intent) };
}

/**
 * The order stage as a checkpointed LangGraph graph: risk_check -> human_approval -> place_order. The
 * risk controller decides first and its decision stands: a human can only turn an allowed order down,
 * never enlarge it. The graph's shape is fixed, so it is compiled once per checkpointer; a run's own
 * environment reaches the nodes through the run's context. LangGraph loads with the first graph, so
 * the commands that only read the execution tables (`positions`, `orders`, `halt`...) do not pay for it.
 */
async function buildOrderGraph(checkpointer: BaseCheckpointSaver) {
  const { Annotation, END, START, StateGraph, interrupt } = await import('@langchain/langgraph');
  const OrderState = Annotation.Root({
    sessionId: Annotation<OrderStateValue['sessionId']>(),
    proposal: Annotation<OrderStateValue['proposal']>(),
    verdict: Annotation<OrderStateValue['verdict']>(),
    runId: Annotation<OrderStateValue['runId']>(),
    decision: Annotation<OrderStateValue['decision']>(),
    approval: Annotation<OrderStateValue['approval']>(),
    order: Annotation<OrderStateValue['order']>(),
  });
  return new StateGraph(OrderState)
    .addNode('risk_check', riskCheckNode)
    .addNode('human_approval', (s: OrderStateValue, config: NodeConfig) => humanApproval(s, config, interrupt))
    .addNode('place_order', placeOrder)
    .addEdge(START, 'risk_check')
    .addEdge('risk_check', 'human_approval')
    .addEdge('human_approval', 'place_order')
    .addEdge('place_order', END)
    .compile({ checkpointer });
}

type OrderGraph = Awaited<ReturnType<typeof buildOrderGraph>>;
const compiled = new WeakMap<BaseCheckpointSaver, Promise<OrderGraph>>();

function orderGraph(checkpointer: BaseCheckpointSaver): Promise<OrderGraph> {
  let graph = compiled.get(checkpointer);
  if (!graph) {
    graph = buildOrderGraph(checkpointer);
    compiled.set(checkpointer, graph);
  }
  return graph;
}

export interface OrderStageResult {
  decision: RiskDecision | null;
  order: SubmitOutcome | null;
  /** Set while the run waits for a human. */
  pendingApproval: string | null;
}

function result(values: Partial<OrderStateValue>, interrupted: boolean): OrderStageResult {
  return {
    decision: values.decision ?? null,
    order: values.order ?? null,
    pendingApproval: interrupted && values.decision ? approvalIdOf(values.decision.id) : null,
  };
}

const runConfig = (env: OrderStageEnv, proposalId: string) => ({
  configurable: { thread_id: orderThreadId(proposalId) },
  context: { env },
  durability: 'sync' as const,
});

/** Runs (or continues) the order stage of a judged proposal. A finished stage's stored outcome stands. */
export async function runOrderStage(env: OrderStageEnv, input: OrderStageInput): Promise<OrderStageResult> {
  const graph = await orderGraph(env.checkpointer);
  const cfg = runConfig(env, input.proposal.id);
  const state = await graph.getState(cfg);
  // Finished before (a retried job): the stored outcome stands.
  if (state.next.length === 0 && state.values && 'decision' in state.values) return result(state.values as OrderStateValue, false);
  if (state.next.length > 0 && state.tasks.some((t) => t.interrupts.length > 0)) return result(state.values as OrderStateValue, true);
  // Stopped mid-way with no interrupt (the process died): resume from the checkpoint, so a decision
  // already taken stands. Invoking with the input again would start over at risk_check, which decides
  // anew on a book that may now hold this stage's own order: a second decision for one verdict.
  const resume = state.next.length > 0 && state.values !== undefined && 'proposal' in state.values;
  const out = await graph.invoke(resume ? null : { ...input, decision: null, approval: null, order: null }, cfg);
  const after = await graph.getState(cfg);
  return result(out, after.next.length > 0);
}

/** Answers a pending approval and resumes its order stage from the checkpoint. */
export async function answerApproval(env: OrderStageEnv, approvalId: string, answer: ApprovalAnswer): Promise<OrderStageResult & { status: string }> {
  const { Command } = await import('@langchain/langgraph');
  const pending = await pendingApproval(env.db, approvalId);
  const graph = await orderGraph(env.checkpointer);
  const out = await graph.invoke(new Command({ resume: ApprovalAnswer.parse(answer) }), runConfig(env, pending.proposalId));
  return { ...result(out, false), status: answer.approve ? 'approved' : 'rejected' };
}
