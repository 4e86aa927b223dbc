import type { FastifyInstance } from 'fastify';
import { JobNotFoundError } from '../../errors.js';
import type { JobEvent } from '../../store/contract.js';
import { TERMINAL_STATES } from '../../types.js';
import type { ServerContext } from '../context.js';
import { logsSchema, eventsSchema } from '../schemas.js';
import { lastEventId, openSse } from '../sse.js';

const LOG_PAGE = 1000;
const truthy = (v: string | undefined): boolean => v === '1' || v === 'true';
const isTerminalState = (s: string): boolean => (TERMINAL_STATES as readonly string[]).includes(s);

export function registerLiveRoutes(app: FastifyInstance, ctx: ServerContext): void {
  app.get<{ Querystring: { job?: string; lastEventId?: string } }>('/api/events', { schema: eventsSchema }, async (request, reply) => {
    const jobId = request.query.job;
    if (jobId !== undefined && !(await ctx.store.get(jobId))) throw new JobNotFoundError(jobId);
    const resume = lastEventId(request, request.query.lastEventId);
    await ctx.feed.start();
    const stream = openSse(request, reply);
    ctx.streams.add(stream);
    let unfollow: (() => void) | null = null;
    const send = (events: JobEvent[]): void => {
      for (const e of events) {
        if (jobId !== undefined && e.jobId !== jobId) continue;
        stream.send({ id: e.seq, event: 'job', data: e });
        if (jobId !== undefined && isTerminalState(e.state)) stream.end({ jobId, state: e.state });
      }
    };
    try {
      unfollow = await ctx.feed.follow(resume ?? ctx.feed.position, send);
      // A job that ended before this stream began (and no missed events to replay): say so and end at once.
      if (jobId !== undefined && !stream.isClosed) {
        const job = await ctx.store.get(jobId);
        if (job && isTerminalState(job.state)) stream.end({ jobId, state: job.state });
      }
    } catch (err) {
      ctx.log.error({ err }, 'event stream failed');
      stream.end({ error: 'the event stream failed; reconnect with Last-Event-ID' });
    }
    await stream.closed;
    unfollow?.();
    ctx.streams.delete(stream);
  });

  app.get<{ Params: { id: string }; Querystring: { follow?: string; after?: number; limit: number; tail?: string } }>(
    '/api/jobs/:id/logs',
    { schema: logsSchema },
    async (request, reply) => {
      const { id } = request.params;
      const q = request.query;
      const job = await ctx.store.get(id);
      if (!job) throw new JobNotFoundError(id);
      if (!truthy(q.follow)) {
        return { lines: await ctx.store.logs(id, { afterSeq: q.after, limit: q.limit, tail: truthy(q.tail) }) };
      }
      const stream = openSse(request, reply);
      ctx.streams.add(stream);
      let after = lastEventId(request, undefined) ?? q.after ?? 0;
      let wake: (() => void) | null = null;
      void stream.closed.then(() => wake?.());
      // The job's state events wake the loop at once; the poll catches lines (they are not events) and other processes.
      await ctx.feed.start();
      const unfollow = await ctx.feed.follow(ctx.feed.position, (events) => {
        if (events.some((e) => e.jobId === id)) wake?.();
      });
      try {
        while (!stream.isClosed) {
          // Read the state BEFORE the lines: lines written before the job ended are then always read after it.
          const current = await ctx.store.get(id);
          const lines = await ctx.store.logs(id, { afterSeq: after, limit: LOG_PAGE });
          for (const l of lines) {
            stream.send({ id: l.seq, event: 'log', data: l });
            after = l.seq;
          }
          if (lines.length === LOG_PAGE) continue;
          if (!current || isTerminalState(current.state)) {
            stream.end({ jobId: id, state: current?.state ?? null });
            break;
          }
          await new Promise<void>((resolve) => {
            const timer = setTimeout(done, ctx.pollMs);
            function done(): void {
              clearTimeout(timer);
              wake = null;
              resolve();
            }
            wake = done;
          });
        }
      } catch (err) {
        ctx.log.error({ err, jobId: id }, 'log stream failed');
        stream.end({ error: 'the log stream failed; reconnect with Last-Event-ID' });
      } finally {
        unfollow();
        ctx.streams.delete(stream);
      }
    },
  );
}
