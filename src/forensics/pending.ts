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

/**
 * A JS expression that evaluates to collectPendingResources() in another isolate (inspector Runtime.evaluate). The
 * `__name` shims cover builds (tsx/esbuild keepNames) that wrap inner functions in a helper that is absent there;
 * esbuild renames that helper (`__name2`, ...) when the module already has one, so every spelling found is shimmed.
 */
export function pendingResourcesExpression(): string {
  const source = collectPendingResources.toString();
  const helpers = [...new Set(['__name', ...(source.match(/\b__name\d*\b/g) ?? [])])];
  // `void 0;` first, at the script's top level: an idle thread's pending Debugger.pause stops on the probe's first
  // statement. Stopping at the entry of a function whose context is not built yet is, we believe, what trips the V8
  // check seen killing executor hosts mid-capture in loaded test runs ("Check failed: needs_context &&
  // current_scope_ == closure_scope_ …" in ScopeIterator while the inspector lists the frame's scopes).
  return `void 0; (() => { ${helpers.map((h) => `const ${h} = (f) => f;`).join(' ')} return (${source})(); })()`;
}
