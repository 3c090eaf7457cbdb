import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { MethodNotAllowedError } from '../errors';

/** An async route body; what it throws reaches the error handler. */
export type AsyncHandler = (req: Request, res: Response) => Promise<void>;

/** Wraps an async route so rejections reach the error handler. */
export const route =
  (fn: AsyncHandler) =>
  (req: Request, res: Response, next: NextFunction): void => {
    fn(req, res).catch(next);
  };

/**
 * The 405 of one route: mount it with `.all()` after the route's own methods, so a known path with
 * another method answers `405` with `Allow`, and an unknown path falls through to the 404.
 */
export function methodNotAllowed(allow: string[]): RequestHandler {
  return (_req, _res, next) => next(new MethodNotAllowedError(allow));
}
