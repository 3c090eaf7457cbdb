import type { HmacScheme } from '../file/hmac';

/** Where a value of the request is read: a header, or a JSON Pointer into the body. */
export type Locator = { header: string } | { jsonPointer: string };

/** An answer a source gives itself, starting no workflow (a URL verification challenge). */
export interface SourceAnswer {
  status: number;
  contentType: string;
  body: string;
}

/**
 * A provider as data: its signature scheme (expressed in the generic HMAC scheme, so a file entry
 * can override any field of it), where its event id, type and entity are, its success code and its
 * quirks. One file per preset in src/sources/presets/, listed in ./index.ts.
 */
export interface Preset {
  /** The `preset:` value of a sources-file entry. */
  name: string;
  /** What it verifies and answers: one line for `intake sources list` and the README table. */
  summary: string;
  /** The provider's signature, in the generic scheme (see src/sources/file/hmac.ts). */
  hmac: HmacScheme;
  /**
   * Verify with the provider's own library instead of the generic scheme, as long as the entry
   * overrides no `verify.hmac` field (the generic scheme then verifies the same requests: tested).
   */
  library?: 'standardwebhooks';
  eventId: Locator;
  eventType: Locator;
  entity?: Locator;
  /** The provider's documented success answer. */
  successCode: 200 | 201 | 202;
  /**
   * For a signature that does not cover the event (one that signs only a timestamp and a token): where the
   * signed one-time token is and where the event content is, both JSON Pointers. The token is then
   * bound to the first event id it signed, across replicas (the store's token bindings), as the
   * built-in code source of that provider does; a quarantined request binds it to its content's hash.
   */
  tokenBinding?: { token: string; content: string };
  /** Answers a verified request itself when it is a handshake, not an event (no workflow starts). */
  answer?(json: unknown): SourceAnswer | undefined;
  /**
   * A real sample delivery from the provider's documentation: its body and the headers it carries
   * besides the signature. `intake send <source> --example` posts it with a fresh event id.
   */
  example: { body: Record<string, unknown>; headers: Record<string, string> };
}
