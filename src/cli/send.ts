import { Command } from 'commander';
import type { Config } from '../config';
import { readDevSecrets } from '../dev-secrets';
import { mailgunExample, partnerExample, type SignedRequest } from '../samples';

/** Builds the example request for a source, with the configured or generated dev secrets. */
export function exampleRequest(config: Config, source: string, opts: { event?: string }): SignedRequest {
  const dev = readDevSecrets(config.dataDir);
  if (source === 'mailgun') {
    const signingKey = config.mailgun.signingKey ?? dev?.mailgunSigningKey;
    if (!signingKey)
      throw new Error(
        'MAILGUN_SIGNING_KEY is not set and no dev secrets were generated (run npm start first)',
      );
    return mailgunExample({ signingKey, event: opts.event });
  }
  if (source === 'partners') {
    // The first configured partner, signed with its newest (last listed) secret; else the dev secrets.
    const configured = [...config.partners.entries()][0];
    const fallback = Object.entries(dev?.partnerSecrets ?? {})[0];
    const partner = configured?.[0] ?? fallback?.[0];
    const secret = configured ? configured[1][configured[1].length - 1] : fallback?.[1];
    if (!partner || !secret)
      throw new Error(
        'INTAKE_PARTNER_SECRETS is not set and no dev secrets were generated (run npm start first)',
      );
    const type = opts.event ?? 'customer.upserted';
    if (type !== 'customer.upserted' && type !== 'customer.deleted')
      throw new Error('--event for partners is customer.upserted or customer.deleted');
    return partnerExample({ partner, secret, type });
  }
  throw new Error(`no example for source "${source}" (known: mailgun, partners)`);
}

/** The processed-data read route of an example: the message (Mailgun) or the customer (partners). */
export function readPath(req: SignedRequest): { label: string; id: string; path: string } {
  const body = JSON.parse(req.body) as {
    'event-data'?: { message?: { headers?: Record<string, string> } };
    data?: { id?: string };
  };
  const messageId = body['event-data']?.message?.headers?.['message-id'];
  if (messageId !== undefined)
    return { label: 'Message id', id: messageId, path: `/messages/${encodeURIComponent(messageId)}` };
  const partner = req.path.split('/').pop() ?? '';
  const customer = body.data?.id ?? '';
  return {
    label: 'Customer id',
    id: customer,
    path: `/customers/${encodeURIComponent(partner)}/${encodeURIComponent(customer)}`,
  };
}

/** `intake send <source> --example`: posts a correctly signed sample webhook to the API. */
export function sendCommand(getConfig: () => Config): Command {
  return new Command('send')
    .argument('<source>', 'mailgun | partners')
    .requiredOption('--example', 'send a generated, correctly signed example event')
    .option('--event <type>', 'event type of the example (e.g. opened, customer.deleted)')
    .option('--url <url>', 'API base URL (default INTAKE_API_URL or http://127.0.0.1:$PORT)')
    .description('send a signed sample webhook, for a first try')
    .action(async (source: string, o: { event?: string; url?: string }) => {
      const config = getConfig();
      const req = exampleRequest(config, source, o);
      const base = (o.url ?? config.apiUrl).replace(/\/$/, '');
      const res = await fetch(base + req.path, { method: 'POST', headers: req.headers, body: req.body });
      const text = await res.text();
      process.stdout.write(`${res.status} ${text}\n`);
      if (res.status === 202 || res.status === 200) {
        const id = (JSON.parse(text) as { id: string }).id;
        const read = readPath(req);
        const tokenNote = config.adminToken
          ? 'INTAKE_ADMIN_TOKEN'
          : `INTAKE_ADMIN_TOKEN: printed by npm start, kept in ${config.dataDir}/dev-secrets.json`;
        const auth = `-H "Authorization: Bearer $INTAKE_ADMIN_TOKEN"`;
        process.stdout.write(
          [
            `${read.label}: ${read.id}`,
            `See it: npx intake events show '${id}'`,
            `    or: curl ${auth} ${base}/events/${encodeURIComponent(id)}`,
            `Processed data: curl ${auth} ${base}${read.path}`,
            `(the API answers 401 without the admin token; ${tokenNote})`,
          ].join('\n') + '\n',
        );
      } else {
        process.exitCode = 1;
      }
    });
}
