import pg from 'pg';
import { StoreUnavailableError, VigilError, errorMessage } from '../../errors.js';
import * as att from './attempts.js';
import { claim, nextRunAt } from './claim.js';
import { cancel, retry } from './control.js';
import { createDb, isUnavailable } from './db.js';
import { enqueue } from './enqueue.js';
import { Listener } from './listener.js';
import { migrate } from './migrate.js';
import * as reads from './reads.js';
import { recoverExpired } from './recover.js';
import { parsePostgresUrl, quoteIdent } from './url.js';
import * as workers from './workers.js';
let instances = 0;
/**
 * Opens (and migrates) the store at `postgres://…[?schema=NAME]`. Fails with StoreUnavailableError when the
 * database can not be reached, and with UsageError for a malformed URL.
 */
export async function openPostgresStore(url, options = {}) {
    const loc = parsePostgresUrl(url);
    const applicationName = `vigil:${loc.schema}:${process.pid}.${++instances}`;
    const base = {
        connectionString: loc.connectionString,
        application_name: applicationName,
        connectionTimeoutMillis: 5_000,
        // A peer that vanished without a reset (cable, VM pause) is noticed in seconds, not after the 2 h OS default.
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
    };
    const migrator = new pg.Client(base);
    migrator.on('error', () => undefined);
    try {
        await migrator.connect();
        await migrate(migrator, loc.schema);
    }
    catch (err) {
        if (isUnavailable(err)) {
            throw new StoreUnavailableError(`can not open PostgreSQL store ${loc.description}: ${errorMessage(err)} — is the database running and reachable?`, err);
        }
        throw new VigilError('VIGIL_INTERNAL', `migrating PostgreSQL store ${loc.description} failed: ${errorMessage(err)}`, { cause: err });
    }
    finally {
        await migrator.end().catch(() => undefined);
    }
    return new PostgresStore(loc.schema, loc.description, base, applicationName, options);
}
export class PostgresStore {
    schema;
    description;
    applicationName;
    kind = 'postgres';
    crossProcessEvents = true;
    pool;
    db;
    listener;
    listeners = new Set();
    closed = false;
    constructor(
    /** Unquoted schema name. */
    schema, description, clientConfig, 
    /** `application_name` of every connection of this store (to find them in pg_stat_activity). */
    applicationName, options = {}) {
        this.schema = schema;
        this.description = description;
        this.applicationName = applicationName;
        this.pool = new pg.Pool({
            ...clientConfig,
            max: options.poolSize ?? 4,
            idleTimeoutMillis: 30_000,
            // The last resort against a query that never returns: the engine gets an error it can retry instead of a hang.
            query_timeout: 60_000,
        });
        // An idle pooled connection killed by a restart emits 'error'; unhandled, it would crash the worker.
        this.pool.on('error', () => undefined);
        this.db = createDb(this.pool, quoteIdent(schema), description);
        this.listener = new Listener({
            clientConfig,
            channel: `vigil_${schema}`,
            pollMs: options.pollMs ?? 10_000,
            onEvent: (e) => this.emit(e),
            runnableTasks: () => this.runnableTasks(),
        });
    }
    /** Connections made by the LISTEN side so far (1 + reconnections). */
    get listenConnections() {
        return this.listener.connections;
    }
    get listening() {
        return this.listener.connected;
    }
    get q() {
        if (this.closed)
            throw new VigilError('VIGIL_CLOSED', `store ${this.description} is closed`);
        return this.db;
    }
    async now() {
        return reads.now(this.q);
    }
    async enqueue(jobs) {
        return enqueue(this.q, jobs);
    }
    async claim(request) {
        return claim(this.q, request);
    }
    async nextRunAt(tasks) {
        return nextRunAt(this.q, tasks);
    }
    async renewLeases(workerId, fences, leaseMs) {
        return att.renewLeases(this.q, workerId, fences, leaseMs);
    }
    async recordActivity(updates) {
        return att.recordActivity(this.q, updates);
    }
    async appendLogs(lines) {
        return att.appendLogs(this.q, lines);
    }
    async finishAttempt(fence, finish) {
        return att.finishAttempt(this.q, fence, finish);
    }
    async recoverExpired() {
        return recoverExpired(this.q);
    }
    async cancel(jobIds, reason) {
        return cancel(this.q, jobIds, reason);
    }
    async retry(jobId) {
        return retry(this.q, jobId);
    }
    async get(jobId) {
        return reads.get(this.q, jobId);
    }
    async getMany(jobIds) {
        return reads.getMany(this.q, jobIds);
    }
    async list(filter) {
        return reads.list(this.q, filter);
    }
    async children(parentId) {
        return reads.children(this.q, parentId);
    }
    async attempts(jobId) {
        return reads.attempts(this.q, jobId);
    }
    async logs(jobId, options) {
        return reads.logs(this.q, jobId, options);
    }
    async counts() {
        return reads.counts(this.q);
    }
    async registerWorker(info) {
        return workers.registerWorker(this.q, info);
    }
    async workerHeartbeat(workerId, stats) {
        return workers.workerHeartbeat(this.q, workerId, stats);
    }
    async unregisterWorker(workerId) {
        return workers.unregisterWorker(this.q, workerId);
    }
    async listWorkers() {
        return workers.listWorkers(this.q);
    }
    async knownTasks() {
        return workers.knownTasks(this.q);
    }
    /** The LISTEN connection is opened on the first subscription: one-shot CLI commands never hold one. */
    subscribe(listener) {
        this.listeners.add(listener);
        if (!this.closed)
            void this.listener.start();
        return () => {
            this.listeners.delete(listener);
        };
    }
    /** Resolves when the LISTEN connection is up (tests; a worker does not need to wait for it). */
    async whenListening() {
        await this.listener.start();
    }
    async close() {
        if (this.closed)
            return;
        this.closed = true;
        this.listeners.clear();
        await this.listener.close();
        await this.pool.end().catch(() => undefined);
    }
    emit(event) {
        for (const l of [...this.listeners]) {
            try {
                l(event);
            }
            catch {
                // A failing subscriber must not stop the others from waking up.
            }
        }
    }
    async runnableTasks() {
        if (this.closed)
            return [];
        const rows = await this.db.read(`SELECT DISTINCT task FROM (
         SELECT task FROM ${this.db.s}.jobs WHERE state = 'queued' AND run_at <= ${this.db.s}.now_ms() LIMIT 10000) s`);
        return rows.map((r) => r.task);
    }
}
//# sourceMappingURL=postgres-store.js.map