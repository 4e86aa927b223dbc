/**
 * What an idle thread is waiting for: a thread that awaits forever has an empty JS stack, so the only evidence of
 * where it hangs is the set of async resources its event loop still holds (the socket it reads, the timer it awaits,
 * the child it waits on).
 */

export interface PendingResource {
  type: string;
  description: string;
}

/**
 * Runs inside the stuck thread (or process). Must stay self-contained — no imports, no module-level references —
 * because forensics also ships its source into a paused thread through the inspector (`pendingResourcesExpression`).
 */
export function collectPendingResources(): PendingResource[] {
  const out: PendingResource[] = [];
  try {
    type Handle = {
      constructor?: { name?: string };
      remoteAddress?: string;
      remotePort?: number;
      localAddress?: string;
      localPort?: number;
      connecting?: boolean;
      pending?: boolean;
      fd?: number;
      pid?: number;
      spawnargs?: string[];
      _handle?: { fd?: number } | null;
      address?: () => unknown;
      listening?: boolean;
      readable?: boolean;
      writable?: boolean;
      _host?: string | null;
    };
    const proc = process as unknown as {
      getActiveResourcesInfo?: () => string[];
      _getActiveHandles?: () => Handle[];
      _getActiveRequests?: () => Array<{ constructor?: { name?: string } }>;
    };
    const info = typeof proc.getActiveResourcesInfo === 'function' ? proc.getActiveResourcesInfo() : [];
    const handles = typeof proc._getActiveHandles === 'function' ? proc._getActiveHandles() : [];
    // Handles we can describe in detail; the rest of getActiveResourcesInfo() is reported by type and count.
    const described: Record<string, number> = {};
    const note = (wrapType: string): void => {
      described[wrapType] = (described[wrapType] ?? 0) + 1;
    };
    for (const h of handles) {
      const name = h?.constructor?.name ?? 'handle';
      if (name === 'Socket' || name === 'TLSSocket') {
        const fd = h._handle?.fd;
        if (h.remoteAddress !== undefined || h.connecting) {
          const state = h.connecting ? 'connecting to' : 'connected to';
          const remote = h.remoteAddress !== undefined ? `${h.remoteAddress}:${h.remotePort}` : `${h._host ?? '?'}`;
          const local = h.localAddress !== undefined ? ` from ${h.localAddress}:${h.localPort}` : '';
          out.push({ type: 'socket', description: `TCP socket ${state} ${remote}${local}${fd !== undefined && fd >= 0 ? ` (fd ${fd})` : ''}` });
          note('TCPSocketWrap');
        } else {
          // Pipes: stdio of the thread or of a child process, or a unix socket.
          const kind = fd !== undefined && fd >= 0 && fd <= 2 ? ['stdin', 'stdout', 'stderr'][fd] : null;
          out.push({
            type: 'pipe',
            description: kind ? `pipe on ${kind}` : `pipe or unix socket${fd !== undefined && fd >= 0 ? ` (fd ${fd})` : ''}${h.readable ? ', readable' : ''}${h.writable ? ', writable' : ''}`,
          });
          note('PipeWrap');
        }
      } else if (name === 'Server') {
        let where = '';
        try {
          const addr = h.address?.() as { address?: string; port?: number } | string | null;
          where = typeof addr === 'string' ? ` on ${addr}` : addr ? ` on ${addr.address}:${addr.port}` : '';
        } catch {
          // address() throws on a closed server.
        }
        out.push({ type: 'server', description: `server listening${where}` });
        note('TCPServerWrap');
      } else if (name === 'ChildProcess') {
        out.push({ type: 'childProcess', description: `child process pid ${h.pid ?? '?'}: ${(h.spawnargs ?? []).join(' ')}` });
        note('ProcessWrap');
      } else if (name === 'MessagePort') {
        // Every worker thread holds its parent port: not a reason to hang, not worth a line.
        note('MessagePort');
      }
    }
    const counts: Record<string, number> = {};
    for (const type of info) counts[type] = (counts[type] ?? 0) + 1;
    const labels: Record<string, string> = {
      Timeout: 'timer (setTimeout/setInterval)',
      Immediate: 'setImmediate callback',
      FSReqCallback: 'file system request in flight',
      FSReqPromise: 'file system request in flight (fs/promises)',
      FileHandle: 'open file handle (fs/promises)',
      TCPConnectWrap: 'TCP connection being established',
      ConnectWrap: 'connection being established',
      GetAddrInfoReqWrap: 'DNS lookup in flight',
      WriteWrap: 'write in flight',
      ShutdownWrap: 'socket shutdown in flight',
      ProcessWrap: 'child process',
      TCPSocketWrap: 'TCP socket',
      TCPServerWrap: 'TCP server',
      PipeWrap: 'pipe',
      TTYWrap: 'terminal',
      SignalWrap: 'signal listener',
      FSEventWrap: 'file watcher',
      StatWatcher: 'file poller (fs.watchFile)',
      UDPWrap: 'UDP socket',
      HTTPINCOMINGMESSAGE: 'HTTP message',
      MessagePort: 'message port',
    };
    for (const type of Object.keys(counts)) {
      const left = counts[type]! - (described[type] ?? 0);
      if (left <= 0 || type === 'MessagePort') continue;
      out.push({ type, description: `${left} × ${labels[type] ?? type}` });
    }
  } catch (err) {
    out.push({ type: 'error', description: `pending resources could not be listed: ${err instanceof Error ? err.message : String(err)}` });
  }
  return out;
}

/** A frame as the probe reports it: line and column 1-based, as V8's CallSite gives them. */
export interface ProbeFrame {
  functionName: string;
  url: string;
  line: number;
  column: number;
  async: boolean;
  /** The user's source position, when the thread itself knows the script's source map (1-based). */
  original?: { source: string; line: number; column: number };
}

/**
 * Runs inside the stuck thread, on top of whatever it was running when the inspector's interrupt arrived: the frames
 * below the probe's own (which have no script URL) are the thread's stack at that instant; none means it was idle.
 * Self-contained for the same reason as collectPendingResources. Error.prepareStackTrace is borrowed and restored, so
 * a task's own stack formatting (source-map-support and the like) is not disturbed.
 */
export function collectStack(maxFrames: number): ProbeFrame[] {
  type Site = {
    getFunctionName(): string | null;
    getMethodName(): string | null;
    getFileName(): string | null | undefined;
    getLineNumber(): number | null;
    getColumnNumber(): number | null;
    isAsync?: () => boolean;
  };
  const E = Error as unknown as { prepareStackTrace?: unknown; stackTraceLimit: number };
  const prepare = E.prepareStackTrace;
  const limit = E.stackTraceLimit;
  try {
    E.stackTraceLimit = maxFrames + 8;
    E.prepareStackTrace = (_e: unknown, sites: Site[]) =>
      sites.map((c) => ({
        functionName: c.getFunctionName() ?? c.getMethodName() ?? '',
        url: c.getFileName() ?? '',
        line: c.getLineNumber() ?? 0,
        column: c.getColumnNumber() ?? 0,
        async: typeof c.isAsync === 'function' ? c.isAsync() : false,
      }));
    const frames = new Error().stack as unknown as ProbeFrame[];
    if (!Array.isArray(frames)) return [];
    const kept = frames.filter((f) => f.url !== '').slice(0, maxFrames);
    // Mapped here, in the thread, when Node keeps its source maps (tsx turns that on; so does --enable-source-maps):
    // the inspector's Debugger.enable, the other way to learn them, replays every parsed script first — ~120 ms of a
    // ~150 ms capture from source (bench/NOTES.md), all of it before the kill.
    type Entry = { originalSource?: string; originalLine?: number; originalColumn?: number };
    const getBuiltin = (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
    // Only Node's own frames (a thread still bootstrapping, or between callbacks): nothing to map, and no module is
    // loaded from inside an interrupt in the middle of Node's start-up.
    const user = kept.some((f) => !f.url.startsWith('node:'));
    const nodeModule = user && process.sourceMapsEnabled && typeof getBuiltin === 'function' ? (getBuiltin('node:module') as { findSourceMap?: (path: string) => { findEntry(l: number, c: number): Entry } | undefined }) : undefined;
    if (nodeModule?.findSourceMap) {
      for (const f of kept) {
        try {
          const entry = nodeModule.findSourceMap(f.url)?.findEntry(f.line - 1, f.column - 1);
          if (entry && typeof entry.originalSource === 'string' && typeof entry.originalLine === 'number') {
            f.original = { source: entry.originalSource, line: entry.originalLine + 1, column: (entry.originalColumn ?? 0) + 1 };
          }
        } catch {
          // No map for this script: the host maps it from the file, or keeps the generated position.
        }
      }
    }
    return kept;
  } catch {
    return [];
  } finally {
    E.prepareStackTrace = prepare;
    E.stackTraceLimit = limit;
  }
}

/**
 * A JS expression that evaluates, in another isolate (inspector Runtime.evaluate), to the thread's stack at the
 * interrupt and its pending resources. The `__name` shims cover builds (tsx/esbuild keepNames) that wrap inner
 * functions in a helper that is absent there; esbuild renames that helper (`__name2`, ...) when the module already
 * has one, so every spelling found is shimmed.
 *
 * Why an evaluation and not Debugger.pause: a pause makes the inspector list every frame's scopes, and on Node 20
 * that listing aborts the whole process ("Check failed: needs_context && current_scope_ == closure_scope_" in
 * ScopeIterator) when the pause lands at the entry of a function whose context is not built yet — which is where a
 * pause requested on an idle thread lands (seen killing executor hosts, and every attempt they ran, in CI). An
 * evaluation runs on the interrupted stack without listing any scope.
 */
export function stackProbeExpression(maxFrames: number): string {
  const sources = [collectStack.toString(), collectPendingResources.toString()];
  const helpers = [...new Set(['__name', ...sources.flatMap((s) => s.match(/\b__name\d*\b/g) ?? [])])];
  return `(() => { ${helpers.map((h) => `const ${h} = (f) => f;`).join(' ')} const stack = (${sources[0]})(${maxFrames}); return { stack, pending: stack.length === 0 ? (${sources[1]})() : undefined }; })()`;
}
