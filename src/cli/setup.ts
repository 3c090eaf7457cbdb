import { setTimeout as sleep } from 'node:timers/promises';
import { Command } from 'commander';
import type { Config } from '../config';
import { openStore } from '../store/store';
import { createClient } from '../temporal/connection';
import { registerSearchAttributes } from '../temporal/search-attributes';

/**
 * Every Temporal service caches a namespace's search-attribute mapping and refreshes it about
 * every 10 s; a start carrying an attribute registered since is refused until then.
 */
const NAMESPACE_REFRESH_S = 12;

/**
 * `intake migrate`: applies the store's pending migrations (DATABASE_URL) and exits: a deploy step
 * (the chart's pre-upgrade Job) that fails the rollout before any new pod runs on a bad schema.
 * API and worker still migrate at start, under the same advisory lock, so it is optional.
 */
export function migrateCommand(getConfig: () => Config): Command {
  return new Command('migrate')
    .description("apply the store's pending schema migrations, then exit (a deploy step)")
    .action(async () => {
      const config = getConfig();
      if (!config.databaseUrl) throw new Error('DATABASE_URL is not set: nothing to migrate');
      const store = await openStore({
        databaseUrl: config.databaseUrl,
        dataDir: config.dataDir,
        poolSize: 1,
      });
      const { rows } = await store.query<{ n: string }>('SELECT count(*) AS n FROM intake_migrations');
      await store.close();
      process.stdout.write(`store migrated: ${rows[0]?.n ?? 0} migrations applied in total\n`);
    });
}

/**
 * `intake search-attributes`: registers IntakeSource, IntakeEventType, IntakeEntity, IntakeStatus,
 * IntakeIssue (Keyword) and IntakeParkedAt (Datetime; workflows/search-attributes.ts) in TEMPORAL_NAMESPACE and exits; existing ones are left alone. On Temporal Cloud use
 * tcld or the Cloud UI instead (an API key of a worker may not change the namespace).
 */
export function searchAttributesCommand(getConfig: () => Config): Command {
  return new Command('search-attributes')
    .description("register Intake's search attributes in the namespace, then exit (idempotent)")
    .option('--no-wait', 'do not wait for the servers to pick up newly added attributes')
    .action(async (opts: { wait: boolean }) => {
      const config = getConfig();
      const client = createClient(config);
      try {
        const { added, existing } = await registerSearchAttributes(
          client.connection,
          client.options.namespace,
        );
        const ns = client.options.namespace;
        for (const n of existing)
          process.stdout.write(`search attribute ${n}: already registered in ${ns}\n`);
        for (const n of added) process.stdout.write(`search attribute ${n}: registered in ${ns}\n`);
        if (added.length > 0 && opts.wait) await sleep(NAMESPACE_REFRESH_S * 1000);
      } finally {
        await client.connection.close();
      }
    });
}
