import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { UnauthorizedError } from '../errors';

const digest = (s: string) => createHash('sha256').update(s).digest();

/** True when `header` is `Bearer <token>` with the right token; constant time in the token. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const given = /^Bearer\s+(.+)$/i.exec(header ?? '')?.[1]?.trim() ?? '';
  return timingSafeEqual(digest(given), digest(token));
}

/**
 * Admin routes need `Authorization: Bearer $INTAKE_ADMIN_TOKEN`. Without a configured token they
 * are closed (401) — except in `intake dev`, which always generates one.
 */
export function requireAdmin(token: string | undefined): RequestHandler {
  return (req, _res, next) => {
    if (!token || !bearerMatches(req.get('authorization'), token)) return next(new UnauthorizedError());
    next();
  };
}

/**
 * Read routes (processed data: names, e-mail addresses) need `Authorization: Bearer` with the admin
 * token or the read-only INTAKE_READ_TOKEN. With neither configured they are closed (401).
 */
export function requireReader(adminToken: string | undefined, readToken: string | undefined): RequestHandler {
  const tokens = [adminToken, readToken].filter((t): t is string => !!t);
  return (req, _res, next) => {
    const header = req.get('authorization');
    // Every configured token is compared, so the time taken does not tell which one matched.
    let ok = false;
    for (const t of tokens) ok = bearerMatches(header, t) || ok;
    next(ok ? undefined : new UnauthorizedError());
  };
}
