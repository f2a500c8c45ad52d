// wasmpack's jco runner: runs a WASI 0.2 command component that jco transpiled (into the
// node cache, once), with preview2-shim's WASI: args, env and preopens as given, no
// network. The component's imports (imports.json beside it) are checked against what the
// shim provides, so a missing one is named rather than failing inside instantiation (its
// functions were held to WASI's WIT before the transpile: node/engine.c, jco_check).
// argv: runner SHIM-DIR APP-DIR PREOPENS-JSON ARG...; the app's env: WASMPACK_APP_ENV (JSON).
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
const [shimDir, appDir, preopens, ...args] = process.argv.slice(2);
const env = process.env.WASMPACK_APP_ENV ?? '{}';
const fail = (m) => { process.stderr.write(`wasmpack: jco engine: ${m}\n`); process.exit(1); };
let inst;
try {
  const { WASIShim } = await import(pathToFileURL(`${shimDir}/dist/common/instantiation.js`));
  const shim = new WASIShim({ sandbox: { preopens: JSON.parse(preopens), env: JSON.parse(env), args, enableNetwork: false } });
  const provided = shim.getImportObject();
  const wanted = JSON.parse(readFileSync(`${appDir}/imports.json`, 'utf8'));
  const missing = wanted.filter((n) => !(n.replace(/@[^@/]*$/, '') in provided));
  if (missing.length)
    fail(`the component imports ${missing.join(', ')}, which this engine does not provide `
      + `(it provides ${[...new Set(Object.keys(provided).map((k) => k.split('/')[0]))].join(', ')})`);
  const app = pathToFileURL(`${appDir}/app.js`);
  const { instantiate } = await import(app);
  inst = await instantiate((p) => WebAssembly.compile(readFileSync(new URL(p, app))), provided);
} catch (e) { fail(e?.message ?? String(e)); }
if (!inst?.run?.run)
  fail('the component exports no wasi:cli/run: it is no command (an HTTP component runs with spin or wasmtime serve)');
try { await inst.run.run(); } catch (e) { fail(e?.message ?? String(e)); }
process.exit(0);
