// npm run build: schema types, then one CommonJS build (dist/index.js + .d.ts) and an
// ES module entry that re-exports it (dist/index.mjs + .d.mts). One implementation
// serves both `import` and `require`, so classes (and `instanceof` on errors) are the same
// object whichever way a program loads the package.
import { execFileSync } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const root = new URL("..", import.meta.url);
const run = (cmd, args) => execFileSync(cmd, args, { cwd: root, stdio: "inherit" });

run(process.execPath, ["scripts/types.mjs", ...(process.argv.includes("--check") ? ["--check"] : [])]);
rmSync(new URL("dist", root), { recursive: true, force: true });
run(process.execPath, [createRequire(import.meta.url).resolve("typescript/bin/tsc"), "-p", "tsconfig.json"]);

// The native module loads on first use, so listing the exports needs no platform package.
const names = Object.keys(createRequire(import.meta.url)("../dist/index.js")).filter((n) => n !== "__esModule");
const esm =
  "// ES module entry: the CommonJS build's exports (scripts/build.mjs).\n" +
  'import sipp from "./index.js";\n' +
  `export const { ${names.join(", ")} } = sipp;\n` +
  "export default sipp;\n";
writeFileSync(new URL("dist/index.mjs", root), esm);
writeFileSync(new URL("dist/index.d.mts", root), 'export * from "./index.js";\n');
