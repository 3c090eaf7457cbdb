import fs from 'node:fs';

export default async function globalTeardown(): Promise<void> {
  const s = globalThis.__INTAKE_TEST_SERVER__;
  if (!s) return;
  await s.server.stop(3000);
  fs.rmSync(s.dir, { recursive: true, force: true });
}
