import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import Redis from 'ioredis';
import { freePort, killProcess, redisBinary, waitForPing, type Freezable } from './redis';

/** A real Redis Cluster of three masters on free loopback ports, for the cluster suite; freeze() stops every node. */
export interface PrivateCluster extends Freezable {
  ports: number[];
  /** `127.0.0.1:port,...`, as REDIS_CLUSTER_NODES takes it. */
  nodes: string;
  stop(): Promise<void>;
}

/** A port whose cluster bus port (+10000) is free as well. */
async function clusterPort(taken: Set<number>): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10_000 > 65_535 || taken.has(port) || taken.has(port + 10_000)) continue;
    const bus = await new Promise<boolean>((resolve) => {
      const server = createServer();
      server.once('error', () => resolve(false));
      server.listen(port + 10_000, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (bus) return port;
  }
}

async function clusterStateOk(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0, disconnectTimeout: 100 });
  client.on('error', () => undefined);
  try {
    for (;;) {
      const info = await client.cluster('INFO').catch(() => '');
      if (String(info).includes('cluster_state:ok')) return;
      if (Date.now() > deadline) throw new Error(`cluster on port ${port} not ok within ${timeoutMs} ms: ${String(info).split('\n')[0]}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    client.disconnect();
  }
}

/** Starts three `redis-server --cluster-enabled yes` and joins them with `redis-cli --cluster create`. */
export async function startPrivateCluster(): Promise<PrivateCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'ssr-cache-cluster-'));
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let i = 0; i < 3; i += 1) {
    const port = await clusterPort(taken);
    taken.add(port).add(port + 10_000);
    ports.push(port);
  }
  const processes: ChildProcess[] = ports.map((port) =>
    spawn(
      redisBinary('redis-server'),
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--daemonize',
        'no',
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(dir, `nodes-${port}.conf`),
        '--cluster-node-timeout',
        '2000',
        '--dir',
        dir,
      ],
      { stdio: 'ignore' },
    ),
  );
  const handle: PrivateCluster = {
    ports,
    nodes: ports.map((port) => `127.0.0.1:${port}`).join(','),
    async stop() {
      await Promise.all(processes.map(killProcess));
      rmSync(dir, { recursive: true, force: true });
    },
    freeze() {
      for (const child of processes) child.kill('SIGSTOP');
    },
    thaw() {
      for (const child of processes) child.kill('SIGCONT');
    },
  };
  try {
    await Promise.all(ports.map((port) => waitForPing(`redis://127.0.0.1:${port}`, 5000)));
    const created = spawnSync(
      redisBinary('redis-cli'),
      ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8', timeout: 20_000 },
    );
    if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`);
    await Promise.all(ports.map((port) => clusterStateOk(port, 10_000)));
  } catch (error) {
    await handle.stop();
    throw error;
  }
  return handle;
}
