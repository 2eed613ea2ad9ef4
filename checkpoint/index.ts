/**
 * checkpoint/: the committee graph's LangGraph checkpoint saver (DESIGN.md: "in its own folder below
 * graph/"). It may import config, db and contracts; graph/ imports it.
 */
export { DELTA_CHECKPOINT_TYPE, FastJsonSerializer } from './delta.ts';
export { DbCheckpointSaver, type TaskRows, type WritesMatcher } from './saver.ts';
export { openCheckpointer, sharedCheckpointer, type OpenCheckpointer } from './open.ts';
