import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/** Source name (`mailgun`, `partners`). */
export const IntakeSource = defineSearchAttributeKey('IntakeSource', SearchAttributeType.KEYWORD);
/** Provider event type (`opened`, `customer.upserted`). */
export const IntakeEventType = defineSearchAttributeKey('IntakeEventType', SearchAttributeType.KEYWORD);
/** Business entity (message id, `<partner>:<customer id>`). */
export const IntakeEntity = defineSearchAttributeKey('IntakeEntity', SearchAttributeType.KEYWORD);
/** queued | processing | processed | parked | discarded. */
export const IntakeStatus = defineSearchAttributeKey('IntakeStatus', SearchAttributeType.KEYWORD);
/**
 * Issue id (12 hex digits, workflows/error-signature.ts `issueId`) of the error a parked event
 * parked with; written when it parks (patch `intake-issue-attribute`), removed when it resumes.
 * Events parked before that patch have none. `IntakeIssue = "<id>" AND IntakeStatus = "parked"`
 * lists one issue's parked events in one visibility query.
 */
export const IntakeIssue = defineSearchAttributeKey('IntakeIssue', SearchAttributeType.KEYWORD);
/**
 * When a parked event parked (workflow time); written with IntakeIssue when it parks (patch
 * `intake-parked-at`), removed when it resumes. Lets `intake events issues` take first/last
 * parked times from visibility rows instead of a history read per event.
 */
export const IntakeParkedAt = defineSearchAttributeKey('IntakeParkedAt', SearchAttributeType.DATETIME);

/** Every custom search attribute Intake registers (Keyword, IntakeParkedAt Datetime). */
export const SEARCH_ATTRIBUTES = [
  IntakeSource,
  IntakeEventType,
  IntakeEntity,
  IntakeStatus,
  IntakeIssue,
  IntakeParkedAt,
] as const;

/** Their names, for registration (`intake search-attributes`, the dev server, tests). */
export const SEARCH_ATTRIBUTE_NAMES: readonly string[] = SEARCH_ATTRIBUTES.map((k) => k.name);

/** A search attribute's type as the Temporal CLI spells it (`--search-attribute Name=Type`). */
export type SearchAttributeCliType = 'Keyword' | 'Datetime';

/** Each attribute's name and type, for registration (every one is Keyword but IntakeParkedAt). */
export const SEARCH_ATTRIBUTE_TYPES: ReadonlyArray<readonly [string, SearchAttributeCliType]> =
  SEARCH_ATTRIBUTES.map((k) => [k.name, k.type === SearchAttributeType.DATETIME ? 'Datetime' : 'Keyword']);
