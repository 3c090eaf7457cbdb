import type { Config } from '../config';
import { EventArchive } from '../store/event-archive';
import { createEncryptionCodec } from '../temporal/encryption-codec';

const byConfig = new WeakMap<Config, EventArchive>();

/**
 * The event archive of a configuration (one per Config, so the keys are parsed once): sealed with
 * the same encryption codec as the histories, the spool and offloaded payloads.
 */
export function eventArchiveFor(config: Config): EventArchive {
  let archive = byConfig.get(config);
  if (!archive) {
    archive = new EventArchive(config.archiveRetentionDays, createEncryptionCodec(config.encryptionKeys));
    byConfig.set(config, archive);
  }
  return archive;
}
