import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Source name (`mailgun`, `partners`). */
export const IntakeSource = defineSearchAttributeKey('IntakeSource', SearchAttributeType.KEYWORD);
/** Provider event type (`opened`, `customer.upserted`). */
export const IntakeEventType = defineSearchAttributeKey('IntakeEventType', SearchAttributeType.KEYWORD);
/** Business entity (message id, `<partner>:<customer id>`). */
export const IntakeEntity = defineSearchAttributeKey('IntakeEntity', SearchAttributeType.KEYWORD);
/** queued | processing | processed | parked | discarded. */
export const IntakeStatus = defineSearchAttributeKey('IntakeStatus', SearchAttributeType.KEYWORD);

/** Every custom search attribute Intake registers (all Keyword). */
export const SEARCH_ATTRIBUTE_NAMES = [
  'IntakeSource',
  'IntakeEventType',
  'IntakeEntity',
  'IntakeStatus',
] as const;
