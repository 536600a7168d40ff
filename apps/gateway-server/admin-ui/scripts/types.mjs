// src/api-types.ts from schema/gateway-admin.schema.json (what the gateway's Rust types
// derive): run by `npm run build`, so the app is always type-checked against the API it
// talks to. `--check` only reports whether the committed file is current.
import { compile } from "json-schema-to-typescript";
import { readFile, writeFile } from "node:fs/promises";

const schemaUrl = new URL("../../../../schema/gateway-admin.schema.json", import.meta.url);
const outUrl = new URL("../src/api-types.ts", import.meta.url);
const schema = JSON.parse(await readFile(schemaUrl, "utf8"));

// One root that names every definition, so each becomes an exported type; the root
// itself is dropped from the output.
const root = {
  title: "AdminApiRoot",
  type: "object",
  additionalProperties: false,
  properties: Object.fromEntries(Object.keys(schema.$defs).map((name) => [name, { $ref: `#/$defs/${name}` }])),
  $defs: schema.$defs,
};
const banner =
  "// Generated from schema/gateway-admin.schema.json by scripts/types.mjs (npm run build). Do not edit:\n" +
  "// change the Rust types in apps/gateway-server/src/admin/answers.rs and run `cargo xtask schema`.";
let ts = await compile(root, "AdminApiRoot", { bannerComment: banner, additionalProperties: false });
ts = ts.replace(/export interface AdminApiRoot \{[^}]*\}\n/, "");

if (process.argv.includes("--check")) {
  const current = await readFile(outUrl, "utf8").catch(() => "");
  if (current !== ts) {
    console.error("src/api-types.ts is out of date: run `npm run types`");
    process.exit(1);
  }
} else {
  await writeFile(outUrl, ts);
}
