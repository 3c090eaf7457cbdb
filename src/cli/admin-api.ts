import type { Config } from '../config';
import { fetchApi } from './reach';

/**
 * Calls the admin API (INTAKE_API_URL, INTAKE_ADMIN_TOKEN): the spool and the quarantine live in
 * the API's store, which the CLI does not open (the embedded store belongs to one process). `payload`
 * is sent as JSON.
 */
export async function adminApi(
  config: Config,
  method: 'GET' | 'POST',
  path: string,
  payload?: unknown,
): Promise<unknown> {
  const res = await fetchApi(config.apiUrl.replace(/\/$/, '') + path, {
    method,
    headers: {
      ...(config.adminToken ? { authorization: `Bearer ${config.adminToken}` } : {}),
      ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(payload === undefined ? {} : { body: JSON.stringify(payload) }),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text) as unknown;
  } catch {
    // not JSON: shown as is
  }
  if (!res.ok) throw new Error(`the API answered ${res.status}: ${text}`);
  return body;
}
