// The public API: everything a user imports comes from here; the rest is internal.
export { defineTask } from './task/define.js';
export { Vigil } from './vigil.js';
export { VigilError, UsageError, TaskDefinitionError, StoreUnavailableError, JobNotFoundError, NonRetryableError, ChildrenFailedError, } from './errors.js';
//# sourceMappingURL=index.js.map