import { EventEmitter } from 'node:events';
import { resolve } from 'node:path';
import { VigilError, errorMessage } from '../../errors.js';
import { rowToJob } from '../rows.js';
import * as attempts from './attempts.js';
import * as cancel from './cancel.js';
import * as claim from './claim.js';
import { openSqlite, unavailable } from './connection.js';
import * as jobs from './jobs.js';
import * as logs from './logs.js';
import * as workers from './workers.js';
/**
 * The Store contract on one SQLite file (better-sqlite3, WAL). Several processes may share the file: every write
 * is one BEGIN IMMEDIATE transaction, so they serialise on SQLite's write lock and never see a half-done batch.
 * The clock is this process's Date.now() (one machine). Methods are async only to share the contract with
 * PostgreSQL; the work itself is synchronous and short.
 */
export class SqliteStore {
    db;
    path;
    kind = 'sqlite';
    crossProcessEvents = false;
    description;
    events = new EventEmitter();
    closed = false;
    constructor(db, path) {
        this.db = db;
        this.path = path;
        this.description = `sqlite:${path}`;
        // Many waiters (one per awaited job) may subscribe; that is not a leak.
        this.events.setMaxListeners(0);
    }
    /** Opens or creates the file and applies migrations. Throws StoreUnavailableError (nothing created) when it can't. */
    static async open(path) {
        const full = path === ':memory:' ? path : resolve(path);
        return new SqliteStore(openSqlite(full), full);
    }
    async now() {
        return Date.now();
    }
    enqueue(newJobs) {
        return this.write((now) => jobs.enqueue(this.db, newJobs, now));
    }
    claim(request) {
        return this.write((now) => claim.claim(this.db, request, now));
    }
    nextRunAt(tasks) {
        return this.read(() => jobs.nextRunAt(this.db, tasks));
    }
    renewLeases(workerId, fences, leaseMs) {
        return this.write((now) => ({ value: claim.renewLeases(this.db, workerId, fences, leaseMs, now), events: [] }));
    }
    recordActivity(updates) {
        if (updates.length === 0)
            return Promise.resolve();
        return this.write((now) => ({ value: attempts.recordActivity(this.db, updates, now), events: [] }));
    }
    appendLogs(lines) {
        if (lines.length === 0)
            return Promise.resolve();
        return this.write((now) => ({ value: logs.appendLogs(this.db, lines, now), events: [] }));
    }
    finishAttempt(fence, finish) {
        return this.write((now) => attempts.finishAttempt(this.db, fence, finish, now));
    }
    async recoverExpired() {
        return (await this.write((now) => attempts.recoverExpired(this.db, now))).map(rowToJob);
    }
    async cancel(jobIds, reason) {
        return (await this.write((now) => cancel.cancel(this.db, jobIds, reason, now))).map(rowToJob);
    }
    async retry(jobId) {
        return rowToJob(await this.write((now) => cancel.retry(this.db, jobId, now)));
    }
    get(jobId) {
        return this.read(() => {
            const row = jobs.get(this.db, jobId);
            return row ? rowToJob(row) : null;
        });
    }
    getMany(jobIds) {
        return this.read(() => jobs.getMany(this.db, jobIds).map(rowToJob));
    }
    list(filter) {
        return this.read(() => jobs.list(this.db, filter).map(rowToJob));
    }
    children(parentId) {
        return this.read(() => jobs.children(this.db, parentId).map(rowToJob));
    }
    attempts(jobId) {
        return this.read(() => attempts.attempts(this.db, jobId));
    }
    logs(jobId, options) {
        return this.read(() => logs.logs(this.db, jobId, options));
    }
    counts() {
        return this.read(() => jobs.counts(this.db));
    }
    registerWorker(info) {
        return this.write((now) => ({ value: workers.registerWorker(this.db, info, now), events: [] }));
    }
    workerHeartbeat(workerId, stats) {
        return this.write((now) => ({ value: workers.workerHeartbeat(this.db, workerId, stats, now), events: [] }));
    }
    unregisterWorker(workerId) {
        return this.write(() => ({ value: workers.unregisterWorker(this.db, workerId), events: [] }));
    }
    listWorkers() {
        return this.read(() => workers.listWorkers(this.db));
    }
    knownTasks() {
        return this.read(() => workers.knownTasks(this.db));
    }
    subscribe(listener) {
        // A throwing listener must not turn a committed write into a rejected call.
        const safe = (e) => {
            try {
                listener(e);
            }
            catch (err) {
                queueMicrotask(() => {
                    throw err;
                });
            }
        };
        this.events.on('event', safe);
        return () => this.events.off('event', safe);
    }
    async close() {
        if (this.closed)
            return;
        this.closed = true;
        this.events.removeAllListeners();
        this.db.close();
    }
    /** One BEGIN IMMEDIATE transaction; events are emitted only after it committed. */
    async write(op) {
        this.checkOpen();
        let result;
        try {
            result = this.db.transaction(() => op(Date.now())).immediate();
        }
        catch (err) {
            throw this.wrap(err);
        }
        for (const e of result.events)
            this.events.emit('event', e);
        return result.value;
    }
    async read(op) {
        this.checkOpen();
        try {
            return op();
        }
        catch (err) {
            throw this.wrap(err);
        }
    }
    checkOpen() {
        if (this.closed)
            throw new VigilError('VIGIL_CLOSED', `the store ${this.description} is closed: open it again to use it`);
    }
    /** Our own errors pass through; driver errors say which file and what to do. */
    wrap(err) {
        if (err instanceof VigilError)
            return err;
        const code = err.code;
        if (typeof code === 'string' && UNAVAILABLE.test(code))
            return unavailable(this.path, err);
        return new VigilError('VIGIL_INTERNAL', `SQLite store ${this.path}: ${errorMessage(err)}`, { cause: err });
    }
}
// Conditions of the file or its lock, not bugs: the caller may retry later or fix the location.
const UNAVAILABLE = /^SQLITE_(BUSY|LOCKED|IOERR|FULL|CORRUPT|NOTADB|CANTOPEN|READONLY|PERM)/;
/** Same as SqliteStore.open. */
export function openSqliteStore(path) {
    return SqliteStore.open(path);
}
//# sourceMappingURL=sqlite-store.js.map