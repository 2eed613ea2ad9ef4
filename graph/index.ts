export { runCommittee, verdictIdOf, DEFAULT_ANALYST_BARS, DEFAULT_ANALYST_NEWS_K, type CommitteeResult, type RunCommitteeOptions } from './committee.ts';
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
export {
  selectBackend,
  ollamaReachable,
  judgeOf,
  closeBackend,
  BackendChoice,
  OLLAMA_PROBE_TIMEOUT_MS,
  type CommitteeBackend,
  type Judge,
  type SelectedBackend,
} from './backend.ts';
// The checkpoint saver lives in checkpoint/; re-exported for the callers that reach it through graph/.
export { DELTA_CHECKPOINT_TYPE, DbCheckpointSaver, openCheckpointer, sharedCheckpointer, type OpenCheckpointer } from '../checkpoint/index.ts';
export { CommitteeEvent, CommitteeNode, CommitteeStats, NodeStat, NodeToolCall, NodeTools, totalStats } from './state.ts';
export { findRunByThread } from './transcript.ts';
