// The Twenty stand-in lives in tools/, shared with the bench.
export * from '../../tools/twenty-standin';
