import { randomBytes } from 'node:crypto';
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { SEARCH_ATTRIBUTE_TYPES } from '../../workflows/search-attributes';
import { INDEXED_TYPES } from '../../src/temporal/search-attributes';
import { waitFor } from './harness';

/**
 * A fresh namespace on a running Temporal server, with Intake's search attributes registered.
 * Tests that count or batch-signal "every parked event" use one so other test files' events on the
 * shared dev server cannot change their numbers.
 */
export async function createTestNamespace(address: string): Promise<string> {
  const namespace = `intake-t-${randomBytes(5).toString('hex')}`;
  const connection = await Connection.connect({ address });
  try {
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs('1 day'),
    });
    await waitFor(
      async () => {
        await connection.operatorService.addSearchAttributes({
          namespace,
          searchAttributes: Object.fromEntries(SEARCH_ATTRIBUTE_TYPES.map(([n, t]) => [n, INDEXED_TYPES[t]])),
        });
        return true;
      },
      30_000,
      `search attributes in ${namespace}`,
    );
    // Visibility must know the attributes before a workflow may use them in a query.
    await waitFor(
      async () => {
        await connection.workflowService.listWorkflowExecutions({
          namespace,
          query: `IntakeStatus = 'parked'`,
        });
        return true;
      },
      30_000,
      `queries in ${namespace}`,
    );
    return namespace;
  } finally {
    await connection.close();
  }
}
