/**
 * What `promise` settles to, or a rejection naming `what` when it takes more than `ms`; the timer
 * is cleared either way. For the host's own Redis calls that a page or a webhook must not wait
 * on for long (the page cache bounds its own).
 */
export function withinMs<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    timer.unref();
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}
