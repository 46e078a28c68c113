/** Stops the redis-server that global-setup started when no Redis was running. */
export default async function globalTeardown(): Promise<void> {
  const pid = (globalThis as { privateRedisPid?: number }).privateRedisPid;
  if (pid !== undefined) process.kill(pid, 'SIGKILL');
}
