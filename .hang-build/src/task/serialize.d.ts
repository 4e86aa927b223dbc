import type { ErrorKind, SerializedError } from '../types.js';
/** Turns anything thrown into a storable error, keeping message, stack, code and the cause chain. */
export declare function serializeError(err: unknown, kind?: ErrorKind, depth?: number): SerializedError;
