/**
 * Dynamic config of every dev server the tests start. The archive tests delete workflows as
 * Temporal's retention would and wait until they are gone; a delete waits for the close task's ack
 * level, which the server checkpoints every 30 s by default (about 35 s per delete, 0.15 s at 1 s).
 */
export const TEST_DEV_SERVER_DYNAMIC_CONFIG = {
  'history.transferProcessorUpdateAckInterval': '1s',
  'history.visibilityProcessorUpdateAckInterval': '1s',
};
