import type { ConnectionLike } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { SEARCH_ATTRIBUTE_NAMES } from '../../workflows/search-attributes';

const KEYWORD = temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD;

/** Raised when a name Intake needs is already registered with another type. */
export class SearchAttributeConflictError extends Error {
  override readonly name = 'SearchAttributeConflictError';
}

/** What {@link registerSearchAttributes} did. */
export interface SearchAttributesResult {
  /** Names it registered now. */
  added: string[];
  /** Names that were already registered as Keyword. */
  existing: string[];
}

/**
 * Registers Intake's search attributes (all Keyword) in `namespace` through the operator service,
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
  for (const name of SEARCH_ATTRIBUTE_NAMES) {
    const type = custom[name];
    if (type === undefined || type === null) missing.push(name);
    else if (type === KEYWORD) existing.push(name);
    else {
      throw new SearchAttributeConflictError(
        `search attribute ${name} exists in namespace ${namespace} with type ${temporal.api.enums.v1.IndexedValueType[type]}, not Keyword`,
      );
    }
  }
  if (missing.length > 0) {
    await connection.operatorService.addSearchAttributes({
      namespace,
      searchAttributes: Object.fromEntries(missing.map((n) => [n, KEYWORD])),
    });
  }
  return { added: missing, existing };
}
