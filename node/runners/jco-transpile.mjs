// wasmpack's jco transpile: one Node.js process that turns a WASI 0.2 component into what
// the jco runner starts from, written into the compile job's output folder (node/compile.h
// runs it confined, with the wasm's copy read-only and an empty output folder):
//   - jco's transpile, through its API (the same function as `jco transpile`): app.js and
//     the core wasm files;
//   - for the async form (a command): bundle.cjs, the runner's half of preview2-shim's
//     Node.js WASI and app.js as one CommonJS function made with the rolldown jco ships,
//     and bundle.cache, V8's code cache of it, so a start reads two files and compiles
//     no JavaScript; the worker side of preview2-shim, worker.cjs and worker.cache, the
//     same way, for the I/O thread the shim starts.
// A bundle that cannot be made leaves app.js alone, which the runner then imports (slower,
// the same result). The code cache is made here, never by a process that runs an app, so
// what a start trusts is what this confined transpile made; V8 checks it against the
// source and its own version and flags, and the runner compiles afresh when it does not fit.
// The bundle answers a file's I/O on the app's thread (jco-io.mjs, put where the shim's
// worker-io.js imports synckit), the rest through the shim's worker.
// argv: jco-transpile JCO-PACKAGE-DIR SHIM-DIR FORM(async|sync) WASM OUT JCO-IO-MODULE
import { readFileSync, writeFileSync, mkdirSync, rmSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, normalize, isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import v8 from 'node:v8';

const [jcoDir, shimDir, form, wasmPath, out, ioModule] = process.argv.slice(2);
// The wrapper both bundles are compiled in, as node wraps a CommonJS file; the runner
// passes the real paths (the worker's script is found beside __filename).
const WRAP = ['(function (exports, require, module, __filename, __dirname) {', '\n})'];
const t0 = performance.now();
const times = {};
// V8 takes a code cache only from a process with the runner's flags. This one starts with
// a bounded heap (--max-old-space-size), which is fixed once the heap is made, so the flag
// goes back to its default here: the version tag V8 stamps a cache with is then the
// runner's.
v8.setFlagsFromString('--max-old-space-size=0');
const runnerTag = v8.cachedDataVersionTag();
// jco's transpiler is itself a large wasm module: left to tier up, its optimising compile
// keeps both cores busy for longer than the transpile takes. Liftoff alone while it runs;
// the flags are put back before the code cache is made (checked: the tag must come back
// to the runner's, or no cache is written).
v8.setFlagsFromString('--liftoff-only');
const lap = (name, since) => { times[name] = Math.round(performance.now() - since); return performance.now(); };

// rolldown is loaded beside jco (it is one of jco's dependencies), before the transpile
// keeps the cores busy; a jco without it gets no bundle.
const rolldownLoad = form === 'async'
  ? import(pathToFileURL(createRequire(join(jcoDir, 'package.json')).resolve('rolldown'))).catch((e) => e)
  : null;
const { transpile } = await import(pathToFileURL(join(jcoDir, 'dist/api.js')));
const rolldown = await rolldownLoad;
let t = lap('load jco', t0);
let files, imports;
try {
  ({ files, imports } = await transpile(readFileSync(wasmPath), { name: 'app', instantiation: form, noTypescript: true, quiet: true }));
} catch (e) {
  // jco's words on one line, no stack: what the user is shown
  process.stderr.write(`${e?.constructor?.name ?? 'Error'}: ${String(e?.message ?? e).replace(/\s+/g, ' ')}\n`);
  process.exit(1);
}
t = lap('transpile', t);
// the names this script writes itself, which jco's may not take
const RESERVED = new Set(['bundle.cjs', 'bundle.cache', 'worker.cjs', 'worker.cache', 'transpile.json', 'imports.json',
  '.entry.mjs', '.jco-io.mjs']);
for (const [name, data] of Object.entries(files)) {
  // jco's own names: plain relative paths inside the output folder
  const rel = normalize(name);
  if (!/^[\w.-]+(\/[\w.-]+)*$/.test(rel) || rel.split('/').some((p) => p === '.' || p === '..') || isAbsolute(rel) ||
      RESERVED.has(rel)) {
    process.stderr.write(`Error: jco named an output file wasmpack does not write: ${JSON.stringify(name).slice(0, 200)}\n`);
    process.exit(1);
  }
  if (rel.endsWith('.d.ts'))
    continue;
  mkdirSync(dirname(join(out, rel)), { recursive: true });
  writeFileSync(join(out, rel), data);
}
v8.setFlagsFromString('--no-liftoff-only --liftoff --wasm-tier-up --wasm-dynamic-tiering');
const cacheFits = v8.cachedDataVersionTag() === runnerTag;
if (!cacheFits)
  times.codeCache = 'none: the flags did not come back';
if (form === 'async') {
  try {
    await bundle();
    t = lap('bundle', t);
  } catch (e) {
    rmSync(join(out, 'bundle.cjs'), { force: true });
    rmSync(join(out, 'bundle.cache'), { force: true });
    rmSync(join(out, 'worker.cjs'), { force: true });
    rmSync(join(out, 'worker.cache'), { force: true });
    process.stderr.write(`wasmpack: jco transpile: no bundle (${e?.message ?? e}); the runner imports app.js\n`);
  }
}
writeFileSync(join(out, 'transpile.json'), JSON.stringify(times));
process.exit(0);

async function bundle() {
  if (rolldown instanceof Error || typeof rolldown?.rolldown !== 'function')
    throw new Error(`jco's rolldown cannot be loaded: ${rolldown?.message ?? 'no rolldown() in it'}`);
  const entry = join(out, '.entry.mjs'), io = join(out, '.jco-io.mjs');
  writeFileSync(entry, `export { WASIShim } from ${JSON.stringify(join(shimDir, 'dist/common/instantiation.js'))};\n`
    + "export { instantiate } from './app.js';\n");
  writeFileSync(io, readFileSync(ioModule, 'utf8').replace(/'__SHIM__(\/[^']*)'/g, (_, rest) => JSON.stringify(shimDir + rest)));
  const workerIo = realpathSync(join(shimDir, 'dist/io/worker-io.js'));
  const shimIndex = realpathSync(join(shimDir, 'dist/nodejs/index.js'));
  // Only the WASI the component imports is loaded: without wasi:http, the shim's HTTP
  // (node:http with it) is left out, its objects empty (WASIShim still reads them).
  const http = (imports ?? []).some((i) => String(i).startsWith('wasi:http/'));
  let hooked = 0;
  try {
    await cjs(rolldown.rolldown, entry, 'bundle', [{
      name: 'wasmpack-jco-io',
      resolveId: (source, importer) => {
        if (!importer)
          return null;
        if (source === './http.js' && !http && realpathSync(importer) === shimIndex)
          return '\0wasmpack-no-http';
        if (source !== '../synckit/index.js' || realpathSync(importer) !== workerIo)
          return null;
        hooked++;
        return io;
      },
      load: (id) => (id === '\0wasmpack-no-http'
        ? 'export const types = {}, incomingHandler = {}, outgoingHandler = {};\n' : null),
    }]);
    if (hooked !== 1)
      throw new Error(`preview2-shim's worker-io.js imported synckit ${hooked} times, not once: wasmpack's file I/O not bundled`);
  } finally {
    rmSync(entry, { force: true });
    rmSync(io, { force: true });
  }
  await cjs(rolldown.rolldown, join(shimDir, 'dist/io/worker-thread.js'), 'worker');
}

// input bundled into NAME.cjs (every import but Node's own inlined), and its code cache.
async function cjs(rolldown, input, name, plugins = []) {
  const build = await rolldown({ input, platform: 'node', logLevel: 'silent', plugins });
  const { output } = await build.generate({ format: 'cjs' });
  await build.close?.();
  if (output.length !== 1)
    throw new Error(`rolldown made ${output.length} chunks of ${input}, not one`);
  const code = WRAP[0] + output[0].code + WRAP[1];
  writeFileSync(join(out, `${name}.cjs`), code);
  if (!cacheFits)
    return;
  // Every function compiled now (--no-lazy), not only the top level: a start then
  // compiles none of the glue's functions as it first calls them (measured: 5 ms less for
  // the sample app, for a cache of 600 KiB rather than 90). The flag goes back before the
  // cache is made, and the tag must be the runner's again.
  v8.setFlagsFromString('--no-lazy');
  const script = new vm.Script(code, { filename: join(out, `${name}.cjs`) });
  v8.setFlagsFromString('--lazy');
  if (v8.cachedDataVersionTag() === runnerTag)
    writeFileSync(join(out, `${name}.cache`), script.createCachedData());
}
