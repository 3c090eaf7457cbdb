/**
 * Jest setupFilesAfterEnv hook: after every test file, no log line captured by the harness may
 * contain a payload value from the shared sample builders (src/samples.ts, test/support/requests.ts).
 * Tests with their own distinctive values call assertNoPayloadInLogs themselves.
 */
import { assertNoPayloadInLogs } from './log-check';

/** Personal-data values the builders put into every sample payload. */
export const SAMPLE_PAYLOAD_VALUES = ['alice@example.com', 'jane.doe@example.com', 'Jane Doe', 'POL-000123'];

afterAll(() => {
  assertNoPayloadInLogs(SAMPLE_PAYLOAD_VALUES);
});
