// src/schema-types.ts from schema/sipp.schema.json (what the Rust serde types derive), by
// the same rule the native module converts names with (bindings/node/src/shape.rs):
// request, descriptor and response fields are camelCase; runtime config groups (every
// `…RuntimeConfig` type and what it holds) keep their snake_case names; free-form maps
// pass through. `--check` only reports whether the committed file is current. `--out F`
// writes F instead (the browser package's copy of the same types).
import { compile } from "json-schema-to-typescript";
import { readFile, writeFile } from "node:fs/promises";

const schemaUrl = new URL("../../../schema/sipp.schema.json", import.meta.url);
const outAt = process.argv.indexOf("--out");
const outUrl =
  outAt > 0 ? new URL(process.argv[outAt + 1], `file://${process.cwd()}/`) : new URL("../src/schema-types.ts", import.meta.url);
const schema = JSON.parse(await readFile(schemaUrl, "utf8"));
const defs = schema.$defs;

const camel = (name) => name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());
const refsOf = (node, out = new Set()) => {
  if (Array.isArray(node)) node.forEach((n) => refsOf(n, out));
  else if (node && typeof node === "object") {
    if (typeof node.$ref === "string") out.add(node.$ref.replace("#/$defs/", ""));
    Object.values(node).forEach((n) => refsOf(n, out));
  }
  return out;
};

// Which definitions are config (snake_case): the groups and everything they reach.
const snake = new Set();
const visit = (name) => {
  if (snake.has(name)) return;
  snake.add(name);
  refsOf(defs[name]).forEach(visit);
};
Object.keys(defs).filter((n) => n.endsWith("RuntimeConfig")).forEach(visit);
// A type used both inside and outside config would need two spellings: refuse it.
const camelUse = new Set();
const visitCamel = (name) => {
  if (camelUse.has(name) || name.endsWith("RuntimeConfig")) return;
  camelUse.add(name);
  refsOf(defs[name]).forEach(visitCamel);
};
Object.keys(defs).filter((n) => !snake.has(n)).forEach(visitCamel);
const both = [...camelUse].filter((n) => snake.has(n) && defs[n].properties);
if (both.length) throw new Error(`used in camelCase and snake_case positions: ${both.join(", ")}`);

// A `$ref` with sibling keywords (a default, a description) would be compiled into a
// numbered copy of the referenced type; the reference alone names the type itself.
const bare = (node) => {
  if (Array.isArray(node)) return node.map(bare);
  if (!node || typeof node !== "object") return node;
  if (typeof node.$ref === "string") return { $ref: node.$ref };
  return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, bare(v)]));
};
const renamed = (node) => {
  if (Array.isArray(node)) return node.map(renamed);
  if (!node || typeof node !== "object") return node;
  const out = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === "properties" && value && typeof value === "object") {
      out.properties = Object.fromEntries(Object.entries(value).map(([k, v]) => [camel(k), renamed(v)]));
    } else if (key === "required" && Array.isArray(value)) {
      out.required = value.map(camel);
    } else {
      out[key] = renamed(value);
    }
  }
  return out;
};
const jsDefs = Object.fromEntries(
  Object.entries(defs).map(([name, def]) => [name, bare(snake.has(name) ? def : renamed(def))]),
);

// One root that names every definition, so each becomes an exported type.
const root = {
  title: "SippSchemaRoot",
  type: "object",
  additionalProperties: false,
  properties: Object.fromEntries(Object.keys(jsDefs).map((name) => [name, { $ref: `#/$defs/${name}` }])),
  $defs: jsDefs,
};
const banner =
  "// Generated from schema/sipp.schema.json by scripts/types.mjs (npm run build). Do not edit:\n" +
  "// change the Rust types in crates/sipp/src/types and run `cargo xtask schema`.";
let ts = await compile(root, "SippSchemaRoot", { bannerComment: banner, additionalProperties: false });
ts = ts.replace(/export interface SippSchemaRoot \{[^}]*\}\n/, "");

if (process.argv.includes("--check")) {
  const current = await readFile(outUrl, "utf8").catch(() => "");
  if (current !== ts) {
    console.error(`${outUrl.pathname} is out of date: run \`npm run types\``);
    process.exit(1);
  }
} else {
  await writeFile(outUrl, ts);
}
