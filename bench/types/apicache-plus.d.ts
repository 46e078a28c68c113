declare module 'apicache-plus' {
  import type { RequestHandler } from 'express';

  interface ApicacheInstance {
    options(options: Record<string, unknown>): ApicacheInstance;
    middleware: (duration?: string) => RequestHandler;
  }
  const apicache: ApicacheInstance;
  export default apicache;
}
