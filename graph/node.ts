/**
 * How the committee's nodes are handed to LangGraph.
 *
 * StateGraph wraps a plain function in a RunnableCallable, whose every call goes through
 * @langchain/core's `runWithConfig`, and that builds a LangSmith RunTree (a UUIDv7 from crypto
 * random bytes, a timestamp string, environment reads) even with tracing off: about half a
 * millisecond of a committee run's overhead. A node given as this Runnable runs with the task's
 * config (thread id, task id, signal, callbacks) as LangGraph passes it, set as the async context
 * for what it calls (an LLM client's run nests under the node's task when tracing is on) without
 * that RunTree when tracing is off.
 */
import { Runnable, type RunnableConfig } from '@langchain/core/runnables';
import { AsyncLocalStorageProviderSingleton } from '@langchain/core/singletons';
import type { LangGraphRunnableConfig } from '@langchain/langgraph';

export type NodeFunction<S, U> = (state: S, config: LangGraphRunnableConfig) => Promise<U>;

class DirectNode<S, U> extends Runnable<S, U> {
  lc_namespace = ['quorum', 'graph'];

  constructor(
    private readonly fn: NodeFunction<S, U>,
    name: string,
  ) {
    super();
    this.name = name;
  }

  override invoke(input: S, options?: Partial<RunnableConfig>): Promise<U> {
    const config: LangGraphRunnableConfig = options ?? {};
    // avoidCreatingRootRunTree: a tracer's run tree when tracing is on, none otherwise.
    return AsyncLocalStorageProviderSingleton.runWithConfig(config, () => this.fn(input, config), true);
  }
}

/** `fn` as a node LangGraph calls directly (see the module comment). */
export function directNode<S, U>(name: string, fn: NodeFunction<S, U>): Runnable<S, U> {
  return new DirectNode(fn, name);
}
