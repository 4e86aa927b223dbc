import { channel } from 'node:diagnostics_channel';

/**
 * Executor host lifecycle for the metrics (src/ops/metrics.ts subscribes by name): `{ event: 'forked' | 'killed',
 * executor: 'thread' | 'process', pid }`. Publishing costs nothing without a subscriber.
 */
export const hostEvents = channel('vigil:executor-host');
