import { WorkflowNotFoundError } from '@temporalio/client';
import { waitFor, type Intake } from './harness';

/** Deletes a workflow as Temporal's retention would, and waits until it is gone. */
export async function deleteWorkflow(intake: Intake, workflowId: string): Promise<void> {
  await intake.client.workflowService.deleteWorkflowExecution({
    namespace: intake.config.temporal.namespace,
    workflowExecution: { workflowId },
  });
  await waitFor(
    async () => {
      try {
        await intake.client.workflow.getHandle(workflowId).describe();
        return false;
      } catch (err) {
        return err instanceof WorkflowNotFoundError;
      }
    },
    60_000,
    `${workflowId} deleted`,
  );
}
