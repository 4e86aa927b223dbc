import { randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { DirectHello } from './ipc.js';

/**
 * The supervisor's end of the direct start (ipc.ts DIRECT_IN): one listening Unix socket per executor, in Linux's
 * abstract namespace (no file to clean up), to which every task thread of its hosts connects. A connection counts
 * only after its first line carries the executor's random token; it is then handed to the host it names.
 * Elsewhere than Linux there is no server and every attempt starts through its host, as before.
 */

/** A first line longer than this is not a hello, nor one that takes longer: the connection is dropped. */
const HELLO_MAX_BYTES = 512;
const HELLO_WITHIN_MS = 10_000;

export class DirectIn {
  readonly token = randomBytes(16).toString('hex');
  readonly path = `\0vigil-direct-in-${process.pid}-${randomBytes(6).toString('hex')}`;
  private readonly server: Server;
  private listening: Promise<boolean>;

  private constructor(private readonly attach: (hello: DirectHello, socket: Socket) => boolean) {
    this.server = createServer({ noDelay: true }, (socket) => this.greet(socket));
    this.server.unref();
    this.listening = new Promise((resolve) => {
      this.server.once('error', () => resolve(false));
      this.server.listen(this.path, () => resolve(true));
    });
  }

  /** A server, or null where abstract Unix sockets do not exist. */
  static open(attach: (hello: DirectHello, socket: Socket) => boolean): DirectIn | null {
    return process.platform === 'linux' ? new DirectIn(attach) : null;
  }

  /** What a host is given in its environment (DIRECT_IN_ENV): the name without its leading NUL, and the token. */
  get env(): string {
    return `${this.path.slice(1)} ${this.token}`;
  }

  ready(): Promise<boolean> {
    return this.listening;
  }

  close(): void {
    this.server.close();
  }

  private greet(socket: Socket): void {
    socket.unref();
    socket.setTimeout(HELLO_WITHIN_MS, () => socket.destroy());
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('utf8');
      const nl = head.indexOf('\n');
      if (nl === -1) {
        if (head.length > HELLO_MAX_BYTES) socket.destroy();
        return;
      }
      socket.off('data', onData);
      socket.setTimeout(0);
      let hello: DirectHello | null = null;
      try {
        hello = JSON.parse(head.slice(0, nl)) as DirectHello;
      } catch {
        // Not one of ours.
      }
      const ok = hello !== null && hello.token === this.token && Number.isInteger(hello.host) && Number.isInteger(hello.slot);
      // Threads never write after their hello; anything more is not a thread of ours either.
      if (!ok || nl !== head.length - 1 || !this.attach(hello!, socket)) socket.destroy();
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  }
}
