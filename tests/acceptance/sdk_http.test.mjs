// Acceptance test: drives a real Tidemark server with the Milvus Node.js SDK's
// HttpClient (@zilliz/milvus2-sdk-node), which speaks the Milvus RESTful API v2.
//
//   node sdk_http.test.mjs /path/to/tidemark        (or TIDEMARK_BIN=/path/to/tidemark)
//
// The test starts its own server on 127.0.0.1, port 0, in a fresh temporary data
// directory, and stops that server (its own PID only) when it ends, fails or
// times out. Set TIDEMARK_TEST_VERBOSE=1 to print every HTTP exchange.
//
// What the SDK sends (read from its source, dist/milvus/HttpClient.js):
//   POST {endpoint}/v2/vectordb/<category>/<action>, body JSON.stringify(params)
//   with "dbName":"default" added, headers Authorization: "Bearer " (empty token),
//   Accept: application/json, Accept-Type-Allow-Int64: "false" and a literal
//   "ContentType" header (so fetch labels the body text/plain). A non-2xx status
//   makes it throw an HttpError; otherwise it returns the parsed JSON body as is.
// Because of Accept-Type-Allow-Int64: false, Int64 values (primary keys,
// insertIds, Int64 fields, count(*)) come back as decimal strings, as Milvus
// does for JS clients.

import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

// The quick-setup collection reads at the default level, Bounded (Milvus's
// default too), which may not see a write made a millisecond earlier. Reads
// that check a write just made ask for Strong, as Milvus's docs advise.
const STRONG = 'Strong';

// Imported dynamically so that a missing `npm ci` gives a clear message.
let HttpClient;
try {
  ({ HttpClient } = await import('@zilliz/milvus2-sdk-node'));
} catch (err) {
  console.error(`sdk_http.test: cannot load @zilliz/milvus2-sdk-node (${err.message});\n` +
    `run \`npm ci\` in ${new URL('.', import.meta.url).pathname} first (make acceptance-deps does)`);
  process.exit(1);
}

const GLOBAL_TIMEOUT_MS = 60_000;
const STARTUP_TIMEOUT_MS = 15_000;
const REQUEST_TIMEOUT_MS = 15_000;
const VERBOSE = !!process.env.TIDEMARK_TEST_VERBOSE;

const bin = process.argv[2] || process.env.TIDEMARK_BIN;
if (!bin) {
  console.error('usage: node sdk_http.test.mjs /path/to/tidemark   (or set TIDEMARK_BIN)');
  process.exit(2);
}

// ---- the server under test -------------------------------------------------

let server = null; // the ChildProcess we started
let dataDir = null;
let serverLog = ''; // stderr and stdout after the ready line, for diagnostics

function killServer(signal = 'SIGKILL') {
  if (server && server.exitCode === null && server.signalCode === null) {
    try {
      process.kill(server.pid, signal); // only the PID this test started
    } catch {
      /* already gone */
    }
  }
}

function removeDataDir() {
  if (dataDir) {
    try {
      rmSync(dataDir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
    dataDir = null;
  }
}

// Whatever happens, never leave our server behind.
process.on('exit', () => {
  killServer('SIGKILL');
  removeDataDir();
});
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    killServer('SIGKILL');
    process.exit(1);
  });
}
setTimeout(() => {
  console.error(`sdk_http.test: global timeout of ${GLOBAL_TIMEOUT_MS} ms reached; stopping`);
  if (serverLog) console.error(`--- server output ---\n${serverLog.slice(-4000)}`);
  killServer('SIGKILL');
  process.exit(1);
}, GLOBAL_TIMEOUT_MS).unref();

function startServer() {
  dataDir = mkdtempSync(join(tmpdir(), 'tidemark-acceptance-'));
  const child = spawn(bin, ['serve', '--host', '127.0.0.1', '--port', '0', '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server = child;
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s) => {
    serverLog += s;
    if (serverLog.length > 200_000) serverLog = serverLog.slice(-100_000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new Error(`server did not report readiness within ${STARTUP_TIMEOUT_MS} ms\n${serverLog}`));
    }, STARTUP_TIMEOUT_MS);
    let ready = false;
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      if (ready) {
        serverLog += line + '\n';
        return;
      }
      const m = /serving the Milvus REST API on (http:\/\/127\.0\.0\.1:(\d+))/.exec(line);
      if (m) {
        ready = true;
        clearTimeout(timer);
        resolve({ endpoint: m[1], port: Number(m[2]) });
      } else {
        serverLog += line + '\n';
      }
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code, signal) => {
      if (!ready) {
        clearTimeout(timer);
        reject(new Error(`server exited early (code ${code}, signal ${signal})\n${serverLog}`));
      }
    });
  });
}

// Stops the server with SIGTERM (SIGKILL after 10 s); tells how it ended.
// Safe to call twice: the second call only reports the first outcome.
let stopped = null;
async function stopServer() {
  if (!server) return null;
  if (stopped) return stopped;
  const child = server;
  let forced = false;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    killServer('SIGTERM');
    const timer = setTimeout(() => {
      forced = true;
      killServer('SIGKILL');
    }, 10_000);
    await exited;
    clearTimeout(timer);
  }
  removeDataDir();
  stopped = { forced, exitCode: child.exitCode, signalCode: child.signalCode };
  return stopped;
}

// ---- HTTP exchange log (a fetch wrapper handed to the SDK) ----------------

const exchanges = [];

async function loggingFetch(url, init = {}) {
  const entry = {
    method: (init.method || 'GET').toUpperCase(),
    path: String(url).replace(/^https?:\/\/[^/]+/, ''),
    headers: init.headers,
    request: init.body,
    status: null,
    response: null,
  };
  exchanges.push(entry);
  if (exchanges.length > 50) exchanges.shift();
  const res = await fetch(url, init);
  const text = await res.clone().text();
  entry.status = res.status;
  entry.response = text;
  if (VERBOSE) console.error(describeExchange(entry));
  return res;
}

function describeExchange(e) {
  return `${e.method} ${e.path}\n  request:  ${e.request ?? ''}\n  response: HTTP ${e.status} ${e.response}`;
}

function lastExchange() {
  return exchanges.length ? describeExchange(exchanges[exchanges.length - 1]) : '(no request sent)';
}

// Assertion helpers that name the exact wire exchange when they fail.
function check(cond, what) {
  assert.ok(cond, `${what}\n${lastExchange()}`);
}
function checkEqual(actual, expected, what) {
  assert.deepStrictEqual(actual, expected, `${what}\n${lastExchange()}`);
}
function checkOk(res, what) {
  check(res && typeof res === 'object', `${what}: the SDK returned no object`);
  checkEqual(res.code, 0, `${what}: expected code 0, got ${res.code} (${res.message})`);
}

// ---- helpers ---------------------------------------------------------------

const suffix = `${process.pid}_${Date.now().toString(36)}`;
const QUICK = `acc_quick_${suffix}`;
const FULL = `acc_full_${suffix}`;
const MISSING = `acc_missing_${suffix}`;

function vec(i) {
  // Exactly representable in float32, so values round-trip bit for bit.
  return Array.from({ length: 8 }, (_, k) => (i * 8 + k) / 4);
}

const sortById = (rows, key) => [...rows].sort((a, b) => Number(a[key]) - Number(b[key]));

async function waitLoaded(client, collectionName) {
  const deadline = Date.now() + 15_000;
  let res;
  while (Date.now() < deadline) {
    res = await client.getCollectionLoadState({ collectionName });
    checkOk(res, `get_load_state ${collectionName}`);
    if (res.data && res.data.loadState === 'LoadStateLoaded') return res;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.fail(`collection ${collectionName} never reached LoadStateLoaded\n${lastExchange()}`);
}

// Runs an SDK call on an unknown collection; Milvus answers HTTP 200 with
// {code: 100, message: "...can't find collection..."} and the SDK passes that
// through. The message is `can't find collection[database=default][collection=x]`
// wherever Milvus's REST layer loads the schema first (describe, insert, get,
// delete); 2.6's query goes straight to the proxy, whose text is
// `collection not found[database=default][collection=x]` (master loads the
// schema there too); both are code 100.
const CANT_FIND = /can't find collection/;
async function expectCollectionNotFound(what, call, messagePattern = CANT_FIND) {
  let res;
  try {
    res = await call();
  } catch (err) {
    assert.fail(`${what}: the SDK threw instead of returning {code: 100}: ${err && err.message}\n${lastExchange()}`);
  }
  check(res && typeof res === 'object', `${what}: the SDK returned no object`);
  checkEqual(res.code, 100, `${what}: expected code 100 (collection not found), got ${res.code}`);
  check(typeof res.message === 'string' && messagePattern.test(res.message),
    `${what}: message should match ${messagePattern}, got ${JSON.stringify(res.message)}`);
  check(res.data === undefined, `${what}: an error envelope carries no data`);
}

// ---- the test --------------------------------------------------------------

let client;

describe('Milvus Node.js SDK HttpClient against Tidemark', () => {
  before(async () => {
    const { endpoint, port } = await startServer();
    assert.ok(port > 0, 'the server reported a real port');
    client = new HttpClient({ endpoint, timeout: REQUEST_TIMEOUT_MS, fetch: loggingFetch });
  });

  after(async () => {
    await stopServer();
  });

  describe('quick-setup collection (dimension 8)', () => {
    it('creates the collection', async () => {
      const res = await client.createCollection({ collectionName: QUICK, dimension: 8 });
      checkOk(res, 'create (quick setup)');
      checkEqual(res.data, {}, 'create returns data {}');
    });

    it('lists it', async () => {
      const res = await client.listCollections();
      checkOk(res, 'list');
      check(Array.isArray(res.data), 'list data is an array of names');
      check(res.data.includes(QUICK), `list contains ${QUICK}`);
    });

    it('has it, and has no unknown collection', async () => {
      let res = await client.hasCollection({ collectionName: QUICK });
      checkOk(res, 'has');
      checkEqual(res.data, { has: true }, 'has returns {has: true}');
      res = await client.hasCollection({ collectionName: MISSING });
      checkOk(res, 'has (unknown)');
      checkEqual(res.data, { has: false }, 'has returns {has: false} for an unknown collection');
    });

    it('describes it with the quick-setup schema, index and load state', async () => {
      await waitLoaded(client, QUICK);
      const res = await client.describeCollection({ collectionName: QUICK });
      checkOk(res, 'describe');
      const d = res.data;
      checkEqual(d.collectionName, QUICK, 'describe collectionName');
      checkEqual(d.autoId, false, 'quick setup autoId defaults to false');
      checkEqual(d.enableDynamicField, true, 'quick setup enables the dynamic field');
      checkEqual(d.fields.map((f) => f.name), ['id', 'vector'], 'quick setup fields');
      const [id, vector] = d.fields;
      checkEqual(id.type, 'Int64', 'id type');
      checkEqual(id.primaryKey, true, 'id is the primary key');
      checkEqual(vector.type, 'FloatVector', 'vector type');
      check(vector.params.some((p) => p.key === 'dim' && p.value === '8'),
        'vector params carry {key: "dim", value: "8"}');
      check(Array.isArray(d.indexes) && d.indexes.length === 1, 'one index on the vector field');
      checkEqual(d.indexes[0].fieldName, 'vector', 'index field');
      checkEqual(d.indexes[0].metricType, 'COSINE', 'index metric (the SDK sends metricType COSINE)');
      checkEqual(d.load, 'LoadStateLoaded', 'quick setup loads the collection');
    });

    it('inserts rows (with a dynamic field)', async () => {
      const data = Array.from({ length: 10 }, (_, i) => ({
        id: i + 1,
        vector: vec(i + 1),
        color: i % 2 ? 'red' : 'blue',
      }));
      const res = await client.insert({ collectionName: QUICK, data });
      checkOk(res, 'insert');
      checkEqual(res.data.insertCount, 10, 'insertCount');
      // Accept-Type-Allow-Int64: false (the SDK's default) → Int64 ids as strings.
      checkEqual(res.data.insertIds, ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'],
        'insertIds (Int64 as strings under Accept-Type-Allow-Int64: false)');
    });

    it('gets rows by id', async () => {
      const res = await client.get({ collectionName: QUICK, consistencyLevel: STRONG, id: [1, 2, 3], outputFields: ['id', 'color', 'vector'] });
      checkOk(res, 'get');
      check(Array.isArray(res.data), 'get data is an array of rows');
      const rows = sortById(res.data, 'id');
      checkEqual(rows.map((r) => r.id), ['1', '2', '3'], 'get returns the asked ids (as strings)');
      checkEqual(rows.map((r) => r.color), ['blue', 'red', 'blue'], 'dynamic field values');
      checkEqual(rows[1].vector, vec(2), 'vector values round-trip');
    });

    it('queries with "id in [..]" and outputFields', async () => {
      const res = await client.query({ collectionName: QUICK, consistencyLevel: STRONG, filter: 'id in [4, 5, 6]', outputFields: ['id', 'color'] });
      checkOk(res, 'query');
      const rows = sortById(res.data, 'id');
      checkEqual(rows, [
        { id: '4', color: 'red' },
        { id: '5', color: 'blue' },
        { id: '6', color: 'red' },
      ], 'query rows hold the primary key and the asked fields only');
    });

    it('counts rows with count(*)', async () => {
      const res = await client.query({ collectionName: QUICK, consistencyLevel: STRONG, filter: '', outputFields: ['count(*)'] });
      checkOk(res, 'query count(*)');
      check(Array.isArray(res.data) && res.data.length === 1, 'count(*) returns one row');
      checkEqual(Number(res.data[0]['count(*)']), 10, 'count(*) is 10');
    });

    it('searches with a filter on a dynamic key (COSINE, best first)', async () => {
      const res = await client.search({
        collectionName: QUICK, consistencyLevel: STRONG, data: [vec(5)], limit: 3,
        filter: 'color == "blue"', outputFields: ['color'],
      });
      checkOk(res, 'search');
      check(Array.isArray(res.data) && res.data.length === 3, 'three hits');
      checkEqual(res.data[0].id, '5', 'the query vector itself is the best hit');
      check(Math.abs(res.data[0].distance - 1) < 1e-6, 'cosine similarity of a vector with itself is 1');
      check(res.data.every((h) => h.color === 'blue'), 'every hit matches the filter');
      check(res.data[0].distance >= res.data[1].distance && res.data[1].distance >= res.data[2].distance,
        'COSINE hits come best (largest) first');
    });

    // Milvus returns count(*) as an Int64 column, so under the SDK's
    // Accept-Type-Allow-Int64: false it is the string "10" (buildQueryResp
    // stringifies every Int64 column); Tidemark does the same.
    it('count(*) is an Int64 column: a string under Accept-Type-Allow-Int64: false',
      async () => {
        const res = await client.query({ collectionName: QUICK, consistencyLevel: STRONG, filter: '', outputFields: ['count(*)'] });
        checkOk(res, 'query count(*)');
        checkEqual(res.data, [{ 'count(*)': '10' }], 'count(*) row, Int64 as string');
      });

    it('deletes by filter, and the row is gone', async () => {
      let res = await client.delete({ collectionName: QUICK, filter: 'id in [2]' });
      checkOk(res, 'delete');
      checkEqual(Number(res.data.deleteCount), 1, 'deleteCount');

      res = await client.get({ collectionName: QUICK, consistencyLevel: STRONG, id: [2] });
      checkOk(res, 'get after delete');
      checkEqual(res.data, [], 'get of the deleted id returns no row');

      res = await client.query({ collectionName: QUICK, consistencyLevel: STRONG, filter: 'id in [1, 2, 3]', outputFields: ['id'] });
      checkOk(res, 'query after delete');
      checkEqual(sortById(res.data, 'id').map((r) => r.id), ['1', '3'], 'query no longer sees id 2');

      res = await client.query({ collectionName: QUICK, consistencyLevel: STRONG, filter: '', outputFields: ['count(*)'] });
      checkOk(res, 'count(*) after delete');
      checkEqual(Number(res.data[0]['count(*)']), 9, 'count(*) is 9 after the delete');
    });

    it('drops the collection', async () => {
      let res = await client.dropCollection({ collectionName: QUICK });
      checkOk(res, 'drop');
      checkEqual(res.data, {}, 'drop returns data {}');
      res = await client.hasCollection({ collectionName: QUICK });
      checkOk(res, 'has after drop');
      checkEqual(res.data, { has: false }, 'has is false after drop');
      res = await client.listCollections();
      checkOk(res, 'list after drop');
      check(!res.data.includes(QUICK), 'list no longer holds the dropped collection');
      await expectCollectionNotFound('describe after drop', () => client.describeCollection({ collectionName: QUICK }));
    });
  });

  describe('full-schema collection with scalar fields and indexParams', () => {
    it('creates the collection', async () => {
      const res = await client.createCollection({
        collectionName: FULL,
        description: 'acceptance full schema',
        schema: {
          autoID: false,
          enableDynamicField: false,
          fields: [
            { fieldName: 'pk', dataType: 'Int64', isPrimary: true },
            { fieldName: 'title', dataType: 'VarChar', elementTypeParams: { max_length: 64 } },
            { fieldName: 'age', dataType: 'Int32' },
            { fieldName: 'score', dataType: 'Double' },
            { fieldName: 'active', dataType: 'Bool' },
            { fieldName: 'views', dataType: 'Int64' },
            { fieldName: 'embedding', dataType: 'FloatVector', elementTypeParams: { dim: 8 } },
          ],
        },
        indexParams: [
          { fieldName: 'embedding', indexName: 'embedding_idx', metricType: 'L2', indexType: 'AUTOINDEX' },
        ],
        params: { consistencyLevel: 'Strong' },
      });
      checkOk(res, 'create (full schema)');
      checkEqual(res.data, {}, 'create returns data {}');
    });

    it('lists, has and describes it', async () => {
      let res = await client.listCollections();
      checkOk(res, 'list');
      check(res.data.includes(FULL), `list contains ${FULL}`);

      res = await client.hasCollection({ collectionName: FULL });
      checkOk(res, 'has');
      checkEqual(res.data, { has: true }, 'has returns {has: true}');

      await waitLoaded(client, FULL); // indexParams given → index created and loaded
      res = await client.describeCollection({ collectionName: FULL });
      checkOk(res, 'describe');
      const d = res.data;
      checkEqual(d.collectionName, FULL, 'describe collectionName');
      checkEqual(d.description, 'acceptance full schema', 'describe description');
      checkEqual(d.enableDynamicField, false, 'full schema: dynamic field as asked');
      checkEqual(d.consistencyLevel, 'Strong', 'consistency level from params');
      // The SDK also sends primaryFieldName "id" / vectorFieldName "vector" /
      // metricType "COSINE"; with a schema Milvus ignores them.
      checkEqual(d.fields.map((f) => [f.name, f.type]), [
        ['pk', 'Int64'], ['title', 'VarChar'], ['age', 'Int32'],
        ['score', 'Double'], ['active', 'Bool'], ['views', 'Int64'], ['embedding', 'FloatVector'],
      ], 'fields and types in schema order');
      checkEqual(d.fields[0].primaryKey, true, 'pk is the primary key');
      check(d.fields[1].params.some((p) => p.key === 'max_length' && p.value === '64'), 'title max_length 64');
      check(d.fields[6].params.some((p) => p.key === 'dim' && p.value === '8'), 'embedding dim 8');
      checkEqual(d.indexes.map((x) => [x.indexName, x.fieldName, x.metricType]),
        [['embedding_idx', 'embedding', 'L2']], 'the vector index');
      checkEqual(d.load, 'LoadStateLoaded', 'loaded after create with indexParams');
    });

    it('inserts rows with scalar values', async () => {
      const data = Array.from({ length: 6 }, (_, k) => {
        const i = k + 1;
        return { pk: i, title: `t${i}`, age: 20 + 5 * i, score: 1.5 * i, active: i % 2 === 0,
          views: 1000 * i, embedding: vec(i) };
      });
      const res = await client.insert({ collectionName: FULL, data });
      checkOk(res, 'insert');
      checkEqual(res.data.insertCount, 6, 'insertCount');
      checkEqual(res.data.insertIds, ['1', '2', '3', '4', '5', '6'], 'insertIds');
    });

    it('gets by id (the request key is "id" whatever the primary key is called)', async () => {
      const res = await client.get({ collectionName: FULL, id: [3, 4], outputFields: ['title', 'age', 'views'] });
      checkOk(res, 'get');
      // An Int64 scalar field is a string too under Accept-Type-Allow-Int64: false.
      checkEqual(sortById(res.data, 'pk'), [
        { pk: '3', title: 't3', age: 35, views: '3000' },
        { pk: '4', title: 't4', age: 40, views: '4000' },
      ], 'get rows');
    });

    it('queries with "pk in [..]" and outputFields', async () => {
      const res = await client.query({
        collectionName: FULL, filter: 'pk in [1, 2, 5]', outputFields: ['pk', 'title', 'score', 'active'],
      });
      checkOk(res, 'query pk in');
      checkEqual(sortById(res.data, 'pk'), [
        { pk: '1', title: 't1', score: 1.5, active: false },
        { pk: '2', title: 't2', score: 3, active: true },
        { pk: '5', title: 't5', score: 7.5, active: false },
      ], 'query rows (pk in)');
    });

    it('deletes by a primary-key filter, and the row is gone', async () => {
      let res = await client.delete({ collectionName: FULL, filter: 'pk in [4]' });
      checkOk(res, 'delete by pk filter');
      checkEqual(Number(res.data.deleteCount), 1, 'deleteCount');

      res = await client.query({ collectionName: FULL, filter: 'pk in [3, 4, 6]', outputFields: ['pk'] });
      checkOk(res, 'query after delete');
      checkEqual(sortById(res.data, 'pk').map((r) => r.pk), ['3', '6'], 'pk 4 is gone');

      res = await client.get({ collectionName: FULL, id: [4] });
      checkOk(res, 'get after delete');
      checkEqual(res.data, [], 'get of the deleted id returns no row');
    });

    it('queries with a scalar filter', async () => {
      const res = await client.query({
        collectionName: FULL, filter: 'age > 30 and active == true', outputFields: ['title', 'age'],
      });
      checkOk(res, 'query scalar filter');
      checkEqual(sortById(res.data, 'pk'), [
        { pk: '6', title: 't6', age: 50 },
      ], 'query rows (scalar filter; pk 4 was deleted)');
    });

    it('deletes by a scalar filter, and the row is gone', async () => {
      let res = await client.delete({ collectionName: FULL, filter: 'title == "t5"' });
      checkOk(res, 'delete by scalar filter');
      checkEqual(Number(res.data.deleteCount), 1, 'deleteCount (rows matched)');

      res = await client.query({ collectionName: FULL, filter: 'pk in [3, 5, 6]', outputFields: ['pk'] });
      checkOk(res, 'query after scalar delete');
      checkEqual(sortById(res.data, 'pk').map((r) => r.pk), ['3', '6'], 'pk 5 is gone');
    });

    it('drops the collection', async () => {
      let res = await client.dropCollection({ collectionName: FULL });
      checkOk(res, 'drop');
      res = await client.hasCollection({ collectionName: FULL });
      checkOk(res, 'has after drop');
      checkEqual(res.data, { has: false }, 'has is false after drop');
      // Dropping a collection that no longer exists succeeds in Milvus (idempotent).
      res = await client.dropCollection({ collectionName: FULL });
      checkOk(res, 'drop again (idempotent)');
    });
  });

  describe('errors on an unknown collection', () => {
    it('describe → code 100 "can\'t find collection"', async () => {
      await expectCollectionNotFound('describe', () => client.describeCollection({ collectionName: MISSING }));
    });

    it('insert → code 100', async () => {
      await expectCollectionNotFound('insert', () =>
        client.insert({ collectionName: MISSING, data: [{ id: 1, vector: vec(1) }] }));
    });

    it('query → code 100', async () => {
      await expectCollectionNotFound('query', () =>
        client.query({ collectionName: MISSING, filter: 'id in [1]', outputFields: ['id'] }),
        /can't find collection|collection not found/);
    });

    it('get → code 100', async () => {
      await expectCollectionNotFound('get', () => client.get({ collectionName: MISSING, id: [1] }));
    });

    it('delete → code 100', async () => {
      await expectCollectionNotFound('delete', () => client.delete({ collectionName: MISSING, filter: 'id in [1]' }));
    });
  });

  // Last: a clean exit (status 0) on SIGTERM, so that sanitizer reports at
  // exit (the ASan ctest run) fail the test too.
  it('shuts the server down cleanly on SIGTERM', async () => {
    const st = await stopServer();
    const how = st.forced ? 'killed after 10 s' : st.signalCode ? `signal ${st.signalCode}` : `status ${st.exitCode}`;
    assert.ok(!st.forced && st.exitCode === 0,
      `the server did not shut down cleanly on SIGTERM (${how})\n--- server output ---\n${serverLog.slice(-8000)}`);
  });
});
