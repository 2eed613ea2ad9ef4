/**
 * Delta checkpoints: a checkpoint stored as the changes to its parent's channel values, and the
 * plain-JSON fast path of the serializer. The committee's state only grows (its reducers build new
 * lists from the old ones' items), so each step stores what it added ([ADR 0011](../docs/adr/0011-checkpoint-storage.md)).
 */
import { JsonPlusSerializer } from '@langchain/langgraph-checkpoint';
import { z } from 'zod';
import { QuorumError } from '../contracts/index.ts';

/**
 * checkpoint_type of a checkpoint stored as the changes to its parent's channel values (see put):
 * UTF-8 JSON of the checkpoint with `channel_delta` in place of `channel_values`.
 */
export const DELTA_CHECKPOINT_TYPE = 'quorum-delta';
/** At most this many delta checkpoints in a row: then a full one, so a read never walks far. */
export const MAX_DELTA_CHAIN = 16;
/** Threads whose last checkpoint is kept for deltas; the least recently written are forgotten. */
export const MAX_REMEMBERED_THREADS = 256;

/** One channel of a delta checkpoint: [0] as in the parent, [1, items] the parent's array plus items, [2, value] this value. */
export const ChannelOp = z.union([z.tuple([z.literal(0)]), z.tuple([z.literal(1), z.array(z.unknown())]), z.tuple([z.literal(2), z.unknown()])]);
export type ChannelOp = z.infer<typeof ChannelOp>;
export const DeltaCheckpoint = z.looseObject({ channel_delta: z.record(z.string(), ChannelOp) });

/**
 * The changes from `parent` to `values` (a checkpoint's channel values), or null when a new value
 * is not plain JSON (then the checkpoint is stored whole). LangGraph's reducers build a new array
 * from the old one's items (the committee's `outcomes`, `opinions`, … grow by concat), so an array
 * that starts with the very same items as the parent's is stored as the items it adds.
 */
export function channelDelta(parent: Readonly<Record<string, unknown>>, values: Readonly<Record<string, unknown>>): Record<string, ChannelOp> | null {
  const delta: Record<string, ChannelOp> = {};
  for (const [channel, value] of Object.entries(values)) {
    const old = Object.hasOwn(parent, channel) ? parent[channel] : undefined;
    if (old !== undefined && value === old) {
      delta[channel] = [0];
    } else if (Array.isArray(value) && Array.isArray(old) && old.length <= value.length && old.every((item, i) => value[i] === item)) {
      const added = value.slice(old.length);
      if (!isPlainJson(added)) return null;
      delta[channel] = [1, added];
    } else {
      if (!isPlainJson(value)) return null;
      delta[channel] = [2, value];
    }
  }
  return delta;
}

/** `parent`'s channel values changed by `delta` (channels not in it are gone, as in LangGraph). */
export function applyDelta(
  parent: Readonly<Record<string, unknown>>,
  delta: Readonly<Record<string, ChannelOp>>,
  checkpointId: string,
): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [channel, op] of Object.entries(delta)) {
    if (op[0] === 2) {
      values[channel] = op[1];
      continue;
    }
    const old = parent[channel];
    if (op[0] === 0) values[channel] = old;
    else if (Array.isArray(old)) values[channel] = old.concat(op[1]);
    else
      throw new QuorumError('INTERNAL', `checkpointer: checkpoint ${checkpointId} appends to channel ${channel}, which is not a list in its parent`, {
        field: 'graph_checkpoints.checkpoint',
      });
  }
  return values;
}

/** Deepest nesting a value may have to take the plain-JSON path (the committee state is ~6 deep). */
const MAX_PLAIN_DEPTH = 64;

/** True when JSON.stringify writes exactly what `value` holds: no undefined, class instance, or LangChain record. */
export function isPlainJson(value: unknown, depth = 0): boolean {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (typeof value !== 'object' || depth > MAX_PLAIN_DEPTH) return false;
  if (Array.isArray(value)) {
    for (const item of value) if (!isPlainJson(item, depth + 1)) return false;
    return true;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  // JsonPlus revives objects with an `lc` marker on load: leave those to it.
  if ('lc' in value) return false;
  for (const item of Object.values(value)) if (!isPlainJson(item, depth + 1)) return false;
  return true;
}

/**
 * LangGraph's JsonPlusSerializer, with a fast path for plain JSON (all of the committee's state):
 * the native JSON.stringify without a replacer, instead of JsonPlus's cycle scan plus a replacer
 * called on every value. The bytes are the same JSON JsonPlus writes for such values (type
 * `json`), so JsonPlus reads them back; anything else (undefined, Map, Uint8Array, Send, …) still
 * goes through JsonPlus.
 */
export class FastJsonSerializer extends JsonPlusSerializer {
  override async dumpsTyped(obj: unknown): Promise<[string, Uint8Array]> {
    if (!(obj instanceof Uint8Array) && isPlainJson(obj)) return ['json', Buffer.from(JSON.stringify(obj))];
    return super.dumpsTyped(obj);
  }
}
