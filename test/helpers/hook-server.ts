import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A loopback HTTP server that records JSON POSTs; `respond` decides each answer (or never answers). */
export class HookServer {
  readonly received: Array<Record<string, unknown>> = [];
  readonly server: Server;
  private readonly open = new Set<ServerResponse>();
  url = '';

  constructor(private readonly respond: (n: number, res: ServerResponse) => void = (_n, res) => res.writeHead(204).end()) {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      let body = '';
      req.setEncoding('utf8').on('data', (d: string) => (body += d));
      req.on('end', () => {
        try {
          this.received.push(JSON.parse(body) as Record<string, unknown>);
        } catch {
          this.received.push({ unparsable: body });
        }
        this.open.add(res);
        res.on('close', () => this.open.delete(res));
        this.respond(this.received.length, res);
      });
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.open) res.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}
