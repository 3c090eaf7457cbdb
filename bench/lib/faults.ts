import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

/**
 * Restarts the local PostgreSQL cluster with pg_ctlcluster (Debian's wrapper), bypassing systemd:
 * `pg_ctlcluster --skip-systemctl-redirect <version> main restart`. Returns the reason when this
 * is not possible here (no cluster, not permitted) so the caller can log it and skip the fault.
 */
export function restartPostgres(): { ok: true } | { ok: false; reason: string } {
  let versions: string[];
  try {
    versions = fs.readdirSync('/etc/postgresql');
  } catch {
    return { ok: false, reason: 'no /etc/postgresql: not a Debian-style PostgreSQL install' };
  }
  const version = versions.sort().at(-1);
  if (!version) return { ok: false, reason: '/etc/postgresql is empty' };
  const r = spawnSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart'], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (r.error) return { ok: false, reason: `pg_ctlcluster could not run: ${r.error.message}` };
  if (r.status !== 0) {
    return {
      ok: false,
      reason: `pg_ctlcluster exited ${r.status}: ${(r.stderr || r.stdout).trim().slice(0, 300)}`,
    };
  }
  return { ok: true };
}
