// Real Redis for the library's own tests: the repo's helpers (a unique key prefix per run, private redis-server processes, SCAN clean-up).
export * from '../../../test/helpers/redis';
