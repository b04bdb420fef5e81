import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "./config.ts";

const BASE =
  "monitors: [{address: 'h:1'}]\ntargets:\n  web: {TCP: {port: 80}}\n  db: {TCP: {port: 5432}}\n";

function fails(statusPage: string): ConfigError {
  try {
    parseConfig(BASE + statusPage, "tasks.yaml");
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  assert.fail("the file was accepted");
}

Deno.test("readStatusPage() reads the title and groups in file order", () => {
  const c = parseConfig(
    BASE + "status_page:\n  title: Acme\n  groups:\n    - {name: Web, targets: [web]}\n" +
      "    - {name: Data, targets: db}\n",
    "tasks.yaml",
  );
  assert.deepEqual(c.statusPage, {
    title: "Acme",
    groups: [{ name: "Web", targets: ["web"] }, { name: "Data", targets: ["db"] }],
  });
  const plain = parseConfig(BASE + "status_page: {groups: [{name: A, targets: [web]}]}\n", "t");
  assert.equal(plain.statusPage?.title, "Status");
  assert.equal(parseConfig(BASE, "t").statusPage, undefined);
});

Deno.test("readStatusPage() points at the file, line and field of a mistake", () => {
  let e = fails("status_page:\n  groups:\n    - name: Web\n      targets: [web, mail]\n");
  assert.equal(e.line, 8);
  assert.equal(e.field, "status_page.groups[0].targets");
  assert.match(e.message, /^tasks\.yaml:8:\d+: .*no target is named "mail"/);
  e = fails("status_page: {title: x}\n");
  assert.equal(e.field, "status_page.groups");
  assert.match(e.reason, /is required/);
  e = fails("status_page: {groups: [{name: A, targets: [web]}], titel: x}\n");
  assert.equal(e.field, "status_page.titel");
  assert.match(e.reason, /did you mean "title"/);
  e = fails(
    "status_page:\n  groups:\n    - {name: A, targets: [web]}\n    - {name: A, targets: [db]}\n",
  );
  assert.equal(e.line, 8);
  assert.match(e.reason, /"A" is already a group/);
  e = fails("status_page: {groups: [{name: A, targets: [web, web]}]}\n");
  assert.match(e.reason, /"web" is listed twice/);
  e = fails("status_page: {groups: []}\n");
  assert.match(e.reason, /at least one group/);
  e = fails("status_page: {groups: [{targets: [web]}]}\n");
  assert.equal(e.field, "status_page.groups[0].name");
});
