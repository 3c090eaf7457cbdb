import type { Request, RequestHandler } from 'express';
import type { Logger } from '../platform/logger';

/**
 * The route pattern that answered (`/webhooks/<source route>`, `/events/:id`), never the path
 * itself: paths and query strings can carry identifiers of people. Unmatched requests log null.
 */
function routePattern(req: Request): string | null {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? req.baseUrl + path : null;
}

/**
 * One `access` log line per request once its response is done (or the client went away): method,
 * route pattern, status, duration and request id. Never bodies, query values or headers.
 */
export function accessLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.once('close', () => {
      logger.info(
        {
          reqId: res.locals.reqId as string | undefined,
          method: req.method,
          route: routePattern(req),
          status: res.statusCode,
          ms: Math.round(Number(process.hrtime.bigint() - started) / 1e6),
          ...(res.writableFinished ? {} : { aborted: true }),
        },
        'access',
      );
    });
    next();
  };
}
