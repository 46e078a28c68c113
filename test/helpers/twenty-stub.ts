// The Twenty stand-in lives in tools/, shared with the bench; the recorded workspace beside it.
export * from '../../tools/twenty-standin';
export * from '../../tools/twenty-workspace';
