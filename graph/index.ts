export {
  runCommittee,
  evidenceOf,
  CALLER_ONLY_TOOLS,
  verdictIdOf,
  DEFAULT_ANALYST_BARS,
  DEFAULT_ANALYST_NEWS_K,
  type CommitteeBackend,
  type CommitteeResult,
  type RunCommitteeOptions,
} from './committee.ts';
export { selectBackend, ollamaReachable, BackendChoice, OLLAMA_PROBE_TIMEOUT_MS, type SelectedBackend } from './backend.ts';
export { DbCheckpointSaver, openCheckpointer, sharedCheckpointer, type OpenCheckpointer } from './checkpointer.ts';
export { CommitteeEvent, CommitteeNode, CommitteeStats, NodeStat, NodeToolCall, NodeTools, totalStats } from './state.ts';
export { findRunByThread } from './transcript.ts';
