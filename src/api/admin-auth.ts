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
