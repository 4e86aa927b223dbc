/**
 * JSON schemas of every body, param, query and response of the API. Fastify validates requests with them and
 * @fastify/swagger builds /api/openapi.json from them: the document can not drift from what the server checks.
 */

const anyJson = {} as const;
const nullableInt = { type: ['integer', 'null'] } as const;
const looseObject = { type: 'object', additionalProperties: true } as const;

export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;

export const errorSchema = {
  $id: 'Error',
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message', 'status'],
      properties: {
        code: { type: 'string', description: 'stable error code, e.g. VIGIL_QUEUE_FULL' },
        message: { type: 'string' },
        status: { type: 'integer' },
      },
    },
  },
} as const;

export const jobSchema = {
  $id: 'Job',
  type: 'object',
  properties: {
    id: { type: 'string' },
    task: { type: 'string' },
    state: { type: 'string', enum: JOB_STATES },
    input: anyJson,
    result: anyJson,
    error: { anyOf: [looseObject, { type: 'null' }] },
    attempts: { type: 'integer' },
    chargedAttempts: { type: 'integer' },
    maxAttempts: { type: 'integer' },
    parentId: { type: ['string', 'null'] },
    childKey: { type: ['string', 'null'] },
    idempotencyKey: { type: ['string', 'null'] },
    priority: { type: 'integer' },
    runAt: { type: 'integer' },
    createdAt: { type: 'integer' },
    updatedAt: { type: 'integer' },
    startedAt: nullableInt,
    finishedAt: nullableInt,
    deadlineAt: nullableInt,
    progress: { anyOf: [looseObject, { type: 'null' }] },
    lastHeartbeatAt: nullableInt,
    leaseOwner: { type: ['string', 'null'] },
    leaseExpiresAt: nullableInt,
    cancelRequested: { type: 'boolean' },
  },
} as const;

export const attemptSchema = {
  $id: 'Attempt',
  type: 'object',
  properties: {
    jobId: { type: 'string' },
    attempt: { type: 'integer' },
    workerId: { type: 'string' },
    startedAt: { type: 'integer' },
    finishedAt: nullableInt,
    outcome: { type: ['string', 'null'] },
    charged: { type: 'boolean' },
    error: { anyOf: [looseObject, { type: 'null' }] },
    hangReport: { anyOf: [looseObject, { type: 'null' }], description: 'DESIGN §5: where the attempt was stuck when it was killed' },
    snapshot: {
      anyOf: [looseObject, { type: 'null' }],
      description: 'the latest hang report taken on request while the attempt kept running (POST /api/jobs/:id/snapshot)',
    },
  },
} as const;

/** A WhyAnswer (src/why/explain.ts); children repeat the same shape down the wait-for graph. */
const whyAnswerSchema = {
  $id: 'WhyAnswer',
  type: 'object',
  properties: {
    jobId: { type: 'string' },
    task: { type: 'string' },
    state: { type: 'string' },
    code: { type: 'string' },
    summary: { type: 'string' },
    until: { type: 'integer' },
    jobs: { type: 'array', items: { type: 'string' } },
    children: {
      type: 'object',
      properties: { done: { type: 'integer' }, total: { type: 'integer' }, waiting: { type: 'array', items: { $ref: 'WhyAnswer#' } } },
    },
    deadEnd: { type: 'object', properties: { jobId: { type: 'string' }, code: { type: 'string' }, summary: { type: 'string' } } },
  },
} as const;

export const sharedSchemas: ReadonlyArray<{ $id: string }> = [errorSchema, jobSchema, attemptSchema, whyAnswerSchema];

const ref = (id: string): { $ref: string } => ({ $ref: `${id}#` });
const errors = (...statuses: number[]): Record<number, { $ref: string }> =>
  Object.fromEntries([...statuses, 401, 500].map((s) => [s, ref('Error')]));

export const jobIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[0-9]{1,18}$', description: 'job id' } },
} as const;

const newJob = {
  type: 'object',
  required: ['task'],
  additionalProperties: false,
  properties: {
    task: { type: 'string', minLength: 1, maxLength: 200 },
    input: anyJson,
    key: { type: 'string', minLength: 1, maxLength: 500, description: 'idempotency key: a repeat returns the first job (200)' },
    priority: { type: 'integer', minimum: -1_000_000, maximum: 1_000_000 },
    delay: {
      anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', minLength: 1, maxLength: 40 }],
      description: 'run no earlier than this from now: milliseconds or "30s", "5m", "1h30m"',
    },
  },
} as const;

export const submitSchema = {
  summary: 'Submit one job or an array of jobs',
  description: '201 when created, 200 when an idempotency key returned an existing job, 429 with Retry-After when the queue is full.',
  body: { anyOf: [newJob, { type: 'array', minItems: 1, maxItems: 1000, items: newJob }] },
  response: {
    200: { anyOf: [ref('Job'), { type: 'array', items: ref('Job') }] },
    201: { anyOf: [ref('Job'), { type: 'array', items: ref('Job') }] },
    ...errors(400, 413, 415, 429),
  },
} as const;

export const listSchema = {
  summary: 'List jobs, newest first, with cursor paging',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      state: { type: 'string', enum: JOB_STATES },
      task: { type: 'string', minLength: 1, maxLength: 200 },
      parent: { type: 'string', pattern: '^([0-9]{1,18}|none)$', description: 'a parent id, or "none" for top-level jobs' },
      limit: { type: 'integer', minimum: 1, maximum: 500, default: 50 },
      cursor: { type: 'string', pattern: '^[0-9]{1,18}$', description: 'nextCursor of the previous page' },
    },
  },
  response: {
    200: {
      type: 'object',
      properties: { jobs: { type: 'array', items: ref('Job') }, nextCursor: { type: ['string', 'null'] } },
    },
    ...errors(400),
  },
} as const;

export const getJobSchema = {
  summary: 'A job with its attempts (hang reports included) and its children, from one consistent read',
  params: jobIdParams,
  response: {
    200: {
      type: 'object',
      properties: {
        job: ref('Job'),
        attempts: { type: 'array', items: ref('Attempt') },
        children: {
          type: 'object',
          properties: {
            counts: { type: 'object', additionalProperties: { type: 'integer' } },
            jobs: { type: 'array', items: ref('Job') },
          },
        },
      },
    },
    ...errors(400, 404),
  },
} as const;

export const logsSchema = {
  summary: 'Log lines of a job; with follow=1 a Server-Sent Events stream (resumable with Last-Event-ID)',
  params: jobIdParams,
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      follow: { type: 'string', enum: ['0', '1', 'true', 'false'] },
      after: { type: 'integer', minimum: 0, description: 'only lines with seq above this' },
      limit: { type: 'integer', minimum: 1, maximum: 20_000, default: 1000 },
      tail: { type: 'string', enum: ['0', '1', 'true', 'false'], description: 'the last `limit` lines instead of the first' },
    },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        lines: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              jobId: { type: 'string' },
              attempt: { type: 'integer' },
              seq: { type: 'integer' },
              ts: { type: 'integer' },
              stream: { type: 'string' },
              line: { type: 'string' },
            },
          },
        },
      },
    },
    ...errors(400, 404),
  },
} as const;

export const controlSchema = (summary: string, ...statuses: number[]) =>
  ({
    summary,
    params: jobIdParams,
    response: { 200: ref('Job'), ...errors(400, 404, ...statuses) },
  }) as const;

export const snapshotSchema = {
  summary: 'Take a hang report of the running attempt without stopping it, stored on the attempt as its snapshot',
  description:
    'The worker holding the lease answers at its next lease renewal (about a second). 409 when the job is not running, 504 when no worker answered within timeoutMs.',
  params: jobIdParams,
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: { timeoutMs: { type: 'integer', minimum: 100, maximum: 60_000, default: 10_000, description: 'how long to wait for the worker' } },
  },
  response: {
    200: {
      type: 'object',
      properties: {
        jobId: { type: 'string' },
        attempt: { type: 'integer' },
        workerId: { type: 'string' },
        snapshot: looseObject,
      },
    },
    ...errors(400, 404, 409, 504),
  },
} as const;

export const workersSchema = {
  summary: 'Workers of this store with their slots and when they were last seen',
  response: {
    200: {
      type: 'object',
      properties: {
        now: { type: 'integer' },
        workers: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              workerId: { type: 'string' },
              hostname: { type: 'string' },
              pid: { type: 'integer' },
              concurrency: { type: 'integer' },
              startedAt: { type: 'integer' },
              lastSeenAt: { type: 'integer' },
              stats: anyJson,
            },
          },
        },
      },
    },
    ...errors(),
  },
} as const;

const countsByState = {
  type: 'object',
  properties: Object.fromEntries(JOB_STATES.map((s) => [s, { type: 'integer' }])),
} as const;

export const statsSchema = {
  summary: 'Counts by state and task, oldest queued age, and throughput/failures over the last hour in buckets',
  response: {
    200: {
      type: 'object',
      properties: {
        now: { type: 'integer' },
        byState: countsByState,
        byTask: {
          type: 'array',
          items: { type: 'object', properties: { task: { type: 'string' }, ...countsByState.properties } },
        },
        oldestQueuedAt: nullableInt,
        oldestQueuedAgeMs: nullableInt,
        bucketMs: { type: 'integer' },
        buckets: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              start: { type: 'integer' },
              succeeded: { type: 'integer' },
              failed: { type: 'integer' },
              cancelled: { type: 'integer' },
            },
          },
        },
      },
    },
    ...errors(),
  },
} as const;

export const eventsSchema = {
  summary: 'Server-Sent Events of job state changes; each event id is a store sequence number (resume with Last-Event-ID)',
  querystring: {
    type: 'object',
    additionalProperties: false,
    properties: {
      job: { type: 'string', pattern: '^[0-9]{1,18}$', description: 'only this job; the stream ends when it ends' },
      lastEventId: { type: 'string', pattern: '^[0-9]{1,18}$', description: 'for clients that cannot send the Last-Event-ID header' },
    },
  },
  response: { ...errors(400, 404) },
} as const;


export const whySchema = {
  summary: 'Why a job is not running or not finished: one cause, or for a parent the same answer per unfinished child',
  params: jobIdParams,
  response: { 200: ref('WhyAnswer'), ...errors(400, 404) },
} as const;
