export {
  runCommittee,
  verdictIdOf,
  DEFAULT_ANALYST_BARS,
  DEFAULT_ANALYST_NEWS_K,
  type CommitteeBackend,
  type CommitteeResult,
  type RunCommitteeOptions,
} from './committee.ts';
export {
  selectEvidence,
  evidenceCost,
  CALLER_ONLY_TOOLS,
  NEWS_PROMPT_SNIPPET_CHARS,
  NEWS_PROMPT_TITLE_CHARS,
  TOOL_ERROR_PROMPT_CHARS,
  SEEN_TITLE_CHARS,
  type EvidenceLimits,
  type EvidenceSelection,
} from './evidence.ts';
export { selectBackend, ollamaReachable, BackendChoice, OLLAMA_PROBE_TIMEOUT_MS, type SelectedBackend } from './backend.ts';
export { DELTA_CHECKPOINT_TYPE, DbCheckpointSaver, openCheckpointer, sharedCheckpointer, type OpenCheckpointer } from './checkpointer.ts';
export { CommitteeEvent, CommitteeNode, CommitteeStats, NodeStat, NodeToolCall, NodeTools, totalStats } from './state.ts';
export { findRunByThread } from './transcript.ts';
