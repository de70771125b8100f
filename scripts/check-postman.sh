#!/usr/bin/env bash
# Optional check: the collection written by `openwelkin postman` loads with the
# `postman-collection` npm package (Postman's own SDK), and holds as many requests as
# the OpenAPI document has operations. Needs node and npm; not part of scripts/test.
#
#   scripts/check-postman.sh [PATH-TO-OPENWELKIN-BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-target/debug/openwelkin}"
[ -x "$bin" ] || cargo build -q -p openwelkin
command -v node >/dev/null && command -v npm >/dev/null || { echo "node and npm are needed" >&2; exit 2; }

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$bin" postman --out "$tmp/collection.json"
"$bin" openapi >"$tmp/openapi.json"
npm install --silent --no-audit --no-fund --prefix "$tmp" postman-collection >/dev/null

cd "$tmp"
node - <<'JS'
const fs = require('fs');
const { Collection, Item } = require('postman-collection');
const json = JSON.parse(fs.readFileSync('collection.json', 'utf8'));
const collection = new Collection(json);
const items = [];
collection.forEachItem((item) => items.push(item));
const doc = JSON.parse(fs.readFileSync('openapi.json', 'utf8'));
const methods = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options', 'trace'];
let operations = 0;
for (const path of Object.values(doc.paths)) operations += methods.filter((m) => path[m]).length;
const problems = [];
if (!items.length || items[0].name !== 'Get token') problems.push('the first request is not "Get token"');
if (items[0] && items[0].getAuth() && items[0].getAuth().type !== 'noauth') problems.push('the token request carries auth');
if (items[0] && items[0].request.url.toString() !== '{{baseUrl}}/{{tenant}}/admin/api_clients/{{clientName}}')
  problems.push(`token url ${items[0].request.url.toString()}`);
if (collection.variables.get('token') === undefined) problems.push('no token variable');
for (const item of items.slice(1)) {
  if (!item.getAuth() || item.getAuth().type !== 'bearer') problems.push(`no bearer auth: ${item.name}`);
}
if (items.length !== operations) problems.push(`${items.length} requests for ${operations} operations`);
for (const item of items) {
  if (!Item.isItem(item) || !item.request.url.toString()) problems.push(`bad request: ${item.name}`);
}
const roundTrip = new Collection(collection.toJSON());
if (roundTrip.items.count() !== collection.items.count()) problems.push('round trip changes the folders');
if (problems.length) {
  console.error(problems.join('\n'));
  process.exit(1);
}
console.log(`ok: postman-collection loads ${items.length} requests in ${collection.items.count()} top-level items`);
JS
