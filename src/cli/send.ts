import { Command } from 'commander';
import type { Config } from '../config';
import { applyDevSecrets, readDevSecrets } from '../dev/dev-secrets';
import type { SourceExample } from '../sources/types';
import { fetchApi } from './reach';

/**
 * The example for a source (Source.example) with the configured secrets, or the generated dev
 * secrets where the environment gives none.
 */
export function exampleRequest(config: Config, name: string, opts: { event?: string }): SourceExample {
  const source = config.registry.find(name);
  if (!source)
    throw new Error(`no example for source "${name}" (known: ${config.registry.names().join(', ')})`);
  const dev = readDevSecrets(config.dataDir);
  const withDev = dev ? applyDevSecrets(config, dev).config : config;
  return source.configured.example(withDev, opts);
}

/** `intake send <source> --example`: posts a correctly signed sample webhook to the API. */
export function sendCommand(getConfig: () => Config): Command {
  return new Command('send')
    .argument('<source>', 'a source name (intake sources list)')
    .requiredOption('--example', 'send a generated, correctly signed example event')
    .option('--event <type>', 'event type of the example (e.g. opened, customer.deleted)')
    .option('--url <url>', 'API base URL (default INTAKE_API_URL or http://127.0.0.1:$PORT)')
    .description('send a signed sample webhook, for a first try')
    .action(async (source: string, o: { event?: string; url?: string }) => {
      const config = getConfig();
      const { request: req, read, deliveredTo } = exampleRequest(config, source, o);
      const base = (o.url ?? config.apiUrl).replace(/\/$/, '');
      const res = await fetchApi(base + req.path, { method: 'POST', headers: req.headers, body: req.body });
      const text = await res.text();
      process.stdout.write(`${res.status} ${text}\n`);
      if (res.ok) {
        const id = (JSON.parse(text) as { id: string }).id;
        const tokenNote = config.adminToken
          ? 'INTAKE_ADMIN_TOKEN'
          : `INTAKE_ADMIN_TOKEN: printed by npm start, kept in ${config.dataDir}/dev-secrets.json; eval "$(npx intake env)" exports it`;
        const auth = `-H "Authorization: Bearer $INTAKE_ADMIN_TOKEN"`;
        process.stdout.write(
          [
            `${read.label}: ${read.id}`,
            `See it: npx intake events show '${id}'`,
            `    or: curl ${auth} ${base}/events/${encodeURIComponent(id)}`,
            // A file source's data is where it delivers, signed (Standard Webhooks).
            deliveredTo ? `Delivered to: ${deliveredTo}` : `Processed data: curl ${auth} ${base}${read.path}`,
            `(the API answers 401 without the admin token; ${tokenNote})`,
          ].join('\n') + '\n',
        );
      } else {
        process.exitCode = 1;
      }
    });
}
