import { connect, type Socket } from 'node:net';
import type { CdpChannel } from './cdp-stack.js';

/**
 * The JS stack of a process's main thread while that thread is busy: IPC to the process is served by its (busy)
 * event loop, so it never answers. Instead a helper thread of the attempt process (started by process-entry) holds
 * a unix socket and relays inspector messages to a session connected to the main thread
 * (`inspector.Session#connectToMainThread`); inspector messages reach the main thread through a V8 interrupt, which
 * a busy loop services. The capture itself (cdp-stack.ts) runs on the supervisor's side of the socket.
 *
 * Wire format: one JSON object per line. To the helper: `{ id, method, params }`. From it: `{ id, result }`,
 * `{ id, error: { message } }` or `{ method, params }` (events).
 */

/**
 * Source of the helper's relay, for a CommonJS eval worker: must stay self-contained. `socketPath` is where it
 * listens. The relay costs nothing until a capture connects: the inspector session exists only while connected.
 * One capture at a time; closing the connection disconnects the session, which resumes a paused main thread.
 */
export const RELAY_SOURCE = `
function serveInspectorRelay(socketPath) {
  const net = require('node:net');
  let connected = false;
  const server = net.createServer((conn) => {
    if (connected) { conn.destroy(); return; }
    connected = true;
    const { Session } = require('node:inspector');
    const session = new Session();
    const write = (m) => { if (!conn.destroyed) conn.write(JSON.stringify(m) + '\\n'); };
    const done = () => {
      if (!connected) return;
      connected = false;
      try { session.disconnect(); } catch {}
    };
    conn.on('close', done);
    conn.on('error', done);
    try {
      session.connectToMainThread();
    } catch (err) {
      write({ id: 0, error: { message: 'inspector: ' + (err && err.message || String(err)) } });
      conn.end();
      return;
    }
    session.on('inspectorNotification', (m) => write({ method: m.method, params: m.params }));
    let buffer = '';
    conn.setEncoding('utf8');
    conn.on('data', (chunk) => {
      buffer += chunk;
      for (let nl = buffer.indexOf('\\n'); nl >= 0; nl = buffer.indexOf('\\n')) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let m;
        try { m = JSON.parse(line); } catch { continue; }
        try {
          session.post(m.method, m.params || {}, (err, result) =>
            write(err ? { id: m.id, error: { message: err.message } } : { id: m.id, result }));
        } catch (err) {
          write({ id: m.id, error: { message: err && err.message || String(err) } });
        }
      }
    });
  });
  server.on('error', () => {});
  server.listen(socketPath);
  // The helper thread is unref'ed by its creator; the server must not keep that thread's loop from ending either.
  server.unref();
}
`;

export interface RelayConnection {
  channel: CdpChannel;
  close(): void;
}

/**
 * Connects to a process's relay; null when it is not there (not started yet, or the process is gone) by `deadline`.
 * A socket not listening yet (the helper thread is still starting: slow on a loaded machine) is tried again every
 * 10 ms until then, rather than given up at the first refusal.
 */
export function connectRelay(socketPath: string, deadline: number): Promise<RelayConnection | null> {
  return new Promise((resolve) => {
    let socket: Socket | null = null;
    let retry: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      clearTimeout(retry);
      socket?.destroy();
      resolve(null);
    }, Math.max(0, deadline - performance.now()));
    const attempt = (): void => {
      const s = connect(socketPath);
      socket = s;
      s.once('error', () => {
        s.destroy();
        if (performance.now() + 10 < deadline) {
          retry = setTimeout(attempt, 10);
        } else {
          clearTimeout(timer);
          resolve(null);
        }
      });
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(relayConnection(s));
      });
    };
    attempt();
  });
}

function relayConnection(socket: Socket): RelayConnection {
  let nextId = 1;
  const pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  const listeners: Array<(method: string, params: unknown) => void> = [];
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      let message: { id?: number; method?: string; params?: unknown; result?: unknown; error?: { message?: string } };
      try {
        message = JSON.parse(line) as typeof message;
      } catch {
        continue;
      }
      if (message.method !== undefined && message.id === undefined) {
        for (const listener of listeners) listener(message.method, message.params);
      } else if (message.id !== undefined) {
        const waiter = pending.get(message.id);
        pending.delete(message.id);
        if (message.error) waiter?.reject(new Error(message.error.message ?? 'inspector error'));
        else waiter?.resolve(message.result);
      }
    }
  });
  const failAll = (): void => {
    for (const waiter of pending.values()) waiter.reject(new Error('the inspector relay closed'));
    pending.clear();
  };
  socket.on('close', failAll);
  socket.on('error', failAll);
  return {
    channel: {
      send(method, params) {
        const id = nextId++;
        return new Promise((resolve, reject) => {
          if (socket.destroyed) return reject(new Error('the inspector relay closed'));
          pending.set(id, { resolve, reject });
          socket.write(`${JSON.stringify({ id, method, params: params ?? {} })}\n`);
        });
      },
      onEvent(listener) {
        listeners.push(listener);
      },
    },
    close() {
      socket.destroy();
    },
  };
}
