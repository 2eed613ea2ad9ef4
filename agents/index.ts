/** agents/: role prompts, output schemas, LLM backends and the parse → repair → ABSTAIN pipeline. */
export {
  RoleName,
  OPINION_ROLES,
  OpinionOutput,
  CommitteeOutput,
  LlmClaim,
  EvidenceItem,
  ROLE_OUTPUT_SCHEMAS,
  MAX_CLAIMS,
  MAX_CLAIM_CHARS,
  MAX_CLAIM_EVIDENCE,
  MAX_DISSENT,
  MAX_SUMMARY_CHARS,
  UTF16_UNITS_PER_CHAR,
  type RoleOutput,
  type EvidenceItemInput,
} from './schema.ts';
export { jsonSchemaOf, roleJsonSchema, roleJsonSchemaForCall, toGrammarCompatible, stableStringify, type JsonObject, type JsonValue } from './json-schema.ts';
export { loadPrompt, loadRolePrompts, rolePrompt, promptVersion, DEFAULT_PROMPTS_DIR, PROMPT_VERSION_LENGTH, type RolePrompt } from './prompts.ts';
export { escapeData, renderEvidence, renderUserMessage, renderRepairMessage, type RenderInput } from './render.ts';
export { checkRoleOutput, clampUnit, type OutputCheck } from './output.ts';
export {
  runAgent,
  DEFAULT_AGENT_TIMEOUT_MS,
  MAX_REPAIRS,
  type RunAgentOptions,
  type AgentRunResult,
  type OpinionRunResult,
  type CommitteeRunResult,
} from './run-agent.ts';
export {
  ChatMessage,
  type ChatBackend,
  type Completion,
  type CompletionRequest,
  type RequestedToolCall,
  type ToolRequest,
  type ToolRequestAnswer,
  type ToolSpec,
} from './backends/types.ts';
export {
  runToolTurn,
  loadToolTurnPrompt,
  toolSpecs,
  toolCallsJsonSchema,
  toolCallsInstruction,
  parseToolCallsText,
  renderToolTurnUser,
  TOOL_TURN_PROMPT_FILE,
  DEFAULT_TOOL_TURN_MAX_OUTPUT_TOKENS,
  TOOL_ARG_STRING_MAX,
  TOOL_ARG_ARRAY_MAX,
  type ToolTurnOptions,
  type ToolTurnResult,
  type ToolTurnPrompt,
  type ToolChoice,
} from './tool-turn.ts';
export { createOllamaBackend, ollamaOptionsFromConfig, type OllamaBackendOptions } from './backends/ollama.ts';
export {
  createLlamaCppBackend,
  llamaCppOptionsFromConfig,
  LlamaCppEngine,
  sharedLlama,
  DEFAULT_LLAMA_CPP_CONTEXT,
  type LlamaCppBackendOptions,
  type LlamaCppEngineOptions,
  type GenerateRequest,
  type GenerateResult,
} from './backends/llama-cpp.ts';
export {
  createScriptedBackend,
  defaultsAnswer,
  type ScriptedBackend,
  type ScriptedStep,
  type ScriptedCall,
  type ScriptedToolCall,
  type ToolScript,
  type Script,
} from './backends/scripted.ts';
export {
  reflectOnOutcome,
  ReflectionOutput,
  REFLECTION_MAX_CHARS,
  REFLECTION_PROMPT_FILE,
  DEFAULT_REFLECTION_MAX_OUTPUT_TOKENS,
  type ReflectionResult,
  type ReflectOptions,
} from './reflection.ts';
export * from './rules/index.ts';
