import { Client } from '@temporalio/client';

/**
 * A client on the same connection whose every WorkflowService call (one round trip to the
 * server: a visibility list page, a query, a history read, a start…) is counted by method name.
 */
export function countingClient(base: Client): {
  client: Client;
  calls: Map<string, number>;
  total(): number;
} {
  const calls = new Map<string, number>();
  const service = new Proxy(base.connection.workflowService, {
    get(target, prop, receiver) {
      const v: unknown = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        calls.set(String(prop), (calls.get(String(prop)) ?? 0) + 1);
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  const connection = new Proxy(base.connection, {
    get: (target, prop, receiver) =>
      prop === 'workflowService' ? service : Reflect.get(target, prop, receiver),
  });
  const client = new Client({ connection, namespace: base.options.namespace });
  return { client, calls, total: () => [...calls.values()].reduce((a, b) => a + b, 0) };
}
