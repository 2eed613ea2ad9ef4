/**
 * Where a finished node's rows go. With our checkpointer (checkpoint/ DbCheckpointSaver) they go
 * into the statement that stores the node's writes, so a crash cannot keep one without the other
 * and a resumed run never stores a node twice; otherwise they are stored in one statement now.
 */
import type { PendingWrite } from '@langchain/langgraph-checkpoint';
import type { WritesMatcher } from '../checkpoint/index.ts';
import type { RunDeps } from './run-deps.ts';
import type { CommitteeNode } from './state.ts';
import { nodeRecordInserts, storeNodeRecord, type NodeRecord, type RunFinish } from './transcript.ts';

/**
 * Recognises the writes of node `node` in round `round`: every agent node's update carries its
 * `nodeStats` entry, and a node runs once per round of a thread, so (node, round) names one task.
 * The saver learns the task from its writes because LangGraph hands a node its own task id only
 * under a private config key (`__pregel_task_id`); a node's update arriving at putWrites as
 * [channel, value] writes is BaseCheckpointSaver's public contract.
 */
export function writesOfNode(node: CommitteeNode, round: number): WritesMatcher {
  return (writes: readonly PendingWrite[]) =>
    writes.some(
      ([channel, value]) =>
        channel === 'nodeStats' &&
        Array.isArray(value) &&
        value.some((s: unknown) => typeof s === 'object' && s !== null && 'node' in s && 'round' in s && s.node === node && s.round === round),
    );
}

/**
 * Stores a finished node's rows (tool turn, conversation, tool calls), with `finish` if given. It
 * returns true when `finish` went to the checkpointer with them (the run is closed with the
 * node's writes); with any other checkpointer the rows are stored now and it returns false.
 */
export async function storeNodeRows(
  deps: RunDeps,
  threadId: unknown,
  node: CommitteeNode,
  round: number,
  rows: NodeRecord,
  finish?: RunFinish,
): Promise<boolean> {
  if (deps.unit && typeof threadId === 'string') {
    const record = finish ? { ...rows, finish } : rows;
    deps.unit.attachToWrites(threadId, writesOfNode(node, round), (params) => nodeRecordInserts(record, params));
    return finish !== undefined;
  }
  await storeNodeRecord(deps.db, rows);
  return false;
}
