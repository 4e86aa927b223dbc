import type { FastifyInstance } from 'fastify';
import { JobNotFoundError } from '../../errors.js';
import type { Job, JobState, Json } from '../../types.js';
import type { ServerContext } from '../context.js';
import { errorBody } from '../errors.js';
import { controlSchema, getJobSchema, listSchema, snapshotSchema, submitSchema, whySchema } from '../schemas.js';

interface NewJobBody {
  task: string;
  input?: Json;
  key?: string;
  priority?: number;
  delay?: number | string;
}

export function registerJobRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.post<{ Body: NewJobBody | NewJobBody[] }>('/api/jobs', { schema: submitSchema }, async (request, reply) => {
    const body = request.body;
    const items = Array.isArray(body) ? body : [body];
    // Checked one by one first: an unknown task or a bad input is that request's 400, and nothing is stored.
    const prepared = [];
    for (const i of items) prepared.push(await ctx.vigil.prepareJob(i.task, i.input ?? null, { key: i.key, priority: i.priority, delay: i.delay }));
    const admitted = await ctx.admission.submit(prepared);
    if (!admitted.ok) return reply.code(admitted.full.status).headers(admitted.full.headers).send(errorBody(admitted.full));
    const results = admitted.results;
    // 201 when anything new was stored; 200 when every job was an earlier one returned by its idempotency key.
    reply.code(results.some((r) => r.created) ? 201 : 200);
    // The response schema (a job or an array) documents the route; plain JSON.stringify skips per-reply anyOf checks.
    reply.serializer(JSON.stringify);
    return Array.isArray(body) ? results.map((r) => r.job) : results[0]!.job;
  });

  app.get<{ Querystring: { state?: JobState; task?: string; parent?: string; limit: number; cursor?: string } }>(
    '/api/jobs',
    { schema: listSchema },
    async (request) => {
      const q = request.query;
      const jobs = await ctx.store.list({
        state: q.state,
        task: q.task,
        parentId: q.parent === undefined ? undefined : q.parent === 'none' ? null : q.parent,
        limit: q.limit,
        beforeId: q.cursor,
      });
      return { jobs, nextCursor: jobs.length === q.limit ? jobs[jobs.length - 1]!.id : null };
    },
  );

  app.get<{ Params: { id: string } }>('/api/jobs/:id', { schema: getJobSchema }, async (request) => {
    const detail = await ctx.store.jobDetail(request.params.id);
    if (!detail) throw new JobNotFoundError(request.params.id);
    const counts: Record<JobState, number> = { queued: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
    for (const c of detail.children) counts[c.state]++;
    return { job: detail.job, attempts: detail.attempts, children: { counts, jobs: detail.children } };
  });

  app.get<{ Params: { id: string } }>('/api/jobs/:id/why', { schema: whySchema }, async (request) => ctx.vigil.why(request.params.id));

  app.post<{ Params: { id: string } }>(
    '/api/jobs/:id/cancel',
    { schema: controlSchema('Cancel a job and its subtree; a running attempt is aborted and killed') },
    async (request): Promise<Job> => ctx.vigil.cancel(request.params.id, 'cancelled over HTTP'),
  );

  app.post<{ Params: { id: string } }>(
    '/api/jobs/:id/retry',
    { schema: controlSchema('Run a failed or cancelled job again with a fresh attempt budget (409 for other states)', 409) },
    async (request): Promise<Job> => ctx.vigil.retry(request.params.id),
  );

  app.post<{ Params: { id: string }; Querystring: { timeoutMs: number } }>('/api/jobs/:id/snapshot', { schema: snapshotSchema }, async (request) =>
    ctx.vigil.snapshot(request.params.id, { timeoutMs: request.query.timeoutMs }),
  );
}
