import { mailgunSource } from './mailgun';
import { partnersSource } from './partners';
import type { Source } from './types';

/** Every built-in source. Adding a provider: one file in src/sources/, one activity, one line here. */
export const sources: readonly Source<never>[] = [
  mailgunSource as Source<never>,
  partnersSource as Source<never>,
];

/** The source registered under `name`, if any. */
export function findSource(name: string): Source<never> | undefined {
  return sources.find((s) => s.name === name);
}
