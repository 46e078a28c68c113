import { createApp } from '../../server/app';
import { loadConfig } from '../../server/config';
import { createHttpServer } from '../../server/utils/http-server';
import { announce, benchPort } from './page';

// This project's server as `npm start` runs it, configured by the bench through env.
const config = loadConfig({ ...process.env, PORT: String(benchPort()) });
const { handler, logger } = createApp({ config });
createHttpServer(handler, config.server, logger).listen(config.port, '127.0.0.1', () => announce(config.port));

// A clean exit on signals lets `node --cpu-prof` write its profile.
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => process.exit(0));
