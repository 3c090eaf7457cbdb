/** The workflow bundle's entry: every workflow the worker registers. */
export { processEvent, retrySignal, discardSignal, statusQuery } from './process-event';
export { redriveParked, redriveProgressQuery } from './redrive-parked';
export { replayEvents, replayProgressQuery } from './replay-events';
