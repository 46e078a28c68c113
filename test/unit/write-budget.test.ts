import { parseInfoMemory } from '../../server/page-cache/redis/write-budget';

describe('parseInfoMemory', () => {
  it('reads used_memory and maxmemory from INFO memory', () => {
    const info = '# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nmaxmemory:2097152\r\nmaxmemory_policy:noeviction\r\n';
    expect(parseInfoMemory(info)).toEqual({ usedBytes: 1_048_576, maxBytes: 2_097_152 });
  });

  it('returns undefined when the fields are missing', () => {
    expect(parseInfoMemory('# Memory\r\n')).toBeUndefined();
  });
});
