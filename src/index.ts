// The public API: everything a user imports comes from here; the rest is internal.
export { defineTask } from './task/define.js';
export type {
  TaskContext,
  TaskDefinition,
  FunctionTask,
  CommandTask,
  FunctionTaskOptions,
  CommandTaskOptions,
  RetryOptions,
  Isolation,
  StdinOption,
  ExecOptions,
  ExecResult,
  ChildRef,
} from './task/define.js';
export type { Duration } from './task/duration.js';
export type { StandardSchemaV1 } from './task/standard-schema.js';
export { PayloadError } from './task/payload.js';
export { Vigil } from './vigil.js';
export type { VigilOptions, SubmitOptions, StartWorkerOptions, WaitOptions } from './vigil.js';
export type { Worker, WorkerEvent } from './engine/worker.js';
export type { Clock, Timer } from './clock.js';
export type { StoreRetry } from './engine/supervise.js';
export type { ServeOptions, VigilServer } from './server/server.js';
export type { QueueLimits } from './server/admission.js';
export type { ErrorBody, HttpErrorCode } from './server/errors.js';
export {
  VigilError,
  UsageError,
  TaskDefinitionError,
  StoreUnavailableError,
  JobNotFoundError,
  SnapshotTimeoutError,
  NonRetryableError,
  ChildrenFailedError,
} from './errors.js';
export type { ErrorCode } from './errors.js';
export type {
  Job,
  JobState,
  Attempt,
  AttemptOutcome,
  ErrorKind,
  SerializedError,
  HangReport,
  AttemptSnapshot,
  LogLine,
  LogStream,
  Progress,
  ChildOutcome,
  ChildPolicy,
  Json,
  StackFrame,
  ProcessSnapshot,
} from './types.js';
export type { Store } from './store/contract.js';
// Flow control: schedules, rate limits (task option `rateLimit`, RetryAfterError), retention (task option `keep`).
export { defineSchedule } from './schedule/define.js';
export type { ScheduleOptions, ScheduleDefinition, CatchUp } from './schedule/define.js';
export { RetryAfterError } from './errors.js';
export type { KeepOptions } from './task/define.js';
export type { OpsAlert } from './ops/alerts.js';
// VigilMetrics and registerOpsRoutes load prom-client: they live at 'vigil/ops' (src/ops/index.ts) so task
// processes, which import this module for defineTask, never pay for it.
export { WebhookSender } from './ops/webhook.js';
export type { WebhookOptions } from './ops/webhook.js';
export type { DoctorReport, DoctorCheck, CheckId, CheckStatus } from './ops/doctor/report.js';
export { explainJob, formatWhy } from './why/explain.js';
export type { WhyAnswer, WhyCode, ExplainOptions } from './why/explain.js';
export type { TakenSnapshot } from './forensics/snapshot-request.js';
