import type { Server } from 'node:http';
import { createApp } from './app';
import { ConfigError, loadConfig, type Config } from './config';
import { createHttpServer } from './utils/http-server';
import { describeRedisTarget } from './utils/redis-client';

function readConfig(): Config {
  try {
    return loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
}

/** Stop accepting, let in-flight requests finish (bounded), then close Redis. */
function drainOnSignals(server: Server, close: () => Promise<void>, config: Config, log: (msg: string) => void): void {
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log(`${signal}: draining`);
    const forced = setTimeout(() => {
      log('shutdown timed out: closing open connections');
      server.closeAllConnections();
    }, config.shutdownTimeoutMs);
    forced.unref();
    server.close(() => {
      clearTimeout(forced);
      void close().finally(() => {
        log('stopped');
        process.exit(0);
      });
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function main(): void {
  const config = readConfig();
  const handle = createApp({ config });
  const { logger } = handle;
  const server = createHttpServer(handle.handler, config.server, logger);
  server.listen(config.port, () => {
    logger.info(
      {
        port: config.port,
        publicUrl: config.publicUrl,
        listingSource: config.listings.kind,
        redis: describeRedisTarget(config.redis),
        cache: config.cache.enabled ? 'enabled' : 'disabled by SSR_CACHE_ENABLED',
      },
      'listings SSR server listening',
    );
    if (!config.production) {
      logger.warn(
        { nodeEnv: process.env.NODE_ENV ?? null },
        'NODE_ENV is not production: React renders with its development build, about 5x slower a render (npm start sets production)',
      );
    }
  });
  server.on('error', (error) => {
    // Before listening: the port is taken or not ours. After: a failed accept (EMFILE, ENOBUFS) drops one connection, never the server.
    if (!server.listening) {
      logger.fatal({ err: error }, 'server could not start');
      process.exit(1);
    }
    logger.error({ err: error }, 'server: a connection failed, still serving');
  });
  drainOnSignals(server, handle.close, config, (msg) => logger.info(msg));
}

main();
