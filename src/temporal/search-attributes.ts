import type { ConnectionLike } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_TYPES, type SearchAttributeCliType } from '../../workflows/search-attributes';

const { IndexedValueType } = temporal.api.enums.v1;

/** The operator service's type of each of Intake's attribute types. */
export const INDEXED_TYPES: Record<SearchAttributeCliType, temporal.api.enums.v1.IndexedValueType> = {
  Keyword: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  Datetime: IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
};

/** Raised when a name Intake needs is already registered with another type. */
export class SearchAttributeConflictError extends Error {
  override readonly name = 'SearchAttributeConflictError';
}

/** What {@link registerSearchAttributes} did. */
export interface SearchAttributesResult {
  /** Names it registered now. */
  added: string[];
  /** Names that were already registered with their type. */
  existing: string[];
}

/**
 * Registers Intake's search attributes (Keyword, IntakeParkedAt Datetime) in `namespace` through the operator service,
 * leaving existing ones alone, so it may run on every deploy. A name taken with another type is a
 * SearchAttributeConflictError: Intake's starts would be refused, and renaming is a human decision.
 */
export async function registerSearchAttributes(
  connection: ConnectionLike,
  namespace: string,
): Promise<SearchAttributesResult> {
  const listed = await connection.operatorService.listSearchAttributes({ namespace });
  const custom = listed.customAttributes ?? {};
  const existing: string[] = [];
  const missing: string[] = [];
  for (const [name, want] of SEARCH_ATTRIBUTE_TYPES) {
    const type = custom[name];
    if (type === undefined || type === null) missing.push(name);
    else if (type === INDEXED_TYPES[want]) existing.push(name);
    else {
      throw new SearchAttributeConflictError(
        `search attribute ${name} exists in namespace ${namespace} with type ${IndexedValueType[type]}, not ${want}`,
      );
    }
  }
  if (missing.length > 0) {
    const types = new Map(SEARCH_ATTRIBUTE_TYPES);
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((n) => [n, INDEXED_TYPES[types.get(n)!]])),
    });
  }
  return { added: missing, existing };
}
