/**
 * Failure type of an error retrying cannot fix (`PermanentProcessingError` in src/errors.ts). The
 * activity layer (activities/run-handler.ts) is the one place that decides retryability and marks
 * such failures non-retryable with this type; the workflow reads it to park at once. Kept in its
 * own dependency-free module so that src/, activities/ and workflows/ share one value.
 */
export const PERMANENT_ERROR_TYPE = 'PermanentProcessingError';
