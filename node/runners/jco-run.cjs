// wasmpack's jco runner: runs a WASI 0.2 command component that jco transpiled (into the
// node cache, once, by jco-transpile.mjs), with preview2-shim's WASI: args, env and
// preopens as given, no network. The component's imports (imports.json beside it) are
// checked against what the shim provides, so a missing one is named rather than failing
// inside instantiation (its functions were held to WASI's WIT before the transpile:
// node/engine_jco.c, jco_check).
// A start reads bundle.cjs (the shim and app.js as one function) with V8's code cache made
// at transpile time, and starts the shim's I/O thread, when one is needed, from
// worker.cjs the same way; the core wasm is compiled synchronously when small (faster so than through the async
// path's task queue). Without a bundle it imports app.js and the shim as modules.
// argv: runner SHIM-DIR APP-DIR PREOPENS-JSON ARG...; the app's env: WASMPACK_APP_ENV (JSON).
// WASMPACK_JCO_TIMES=1 in node's environment writes where a start's time went to stderr.
'use strict';
const { readFileSync, existsSync } = require('node:fs');
const { pathToFileURL } = require('node:url');
const vm = require('node:vm');
const workerThreads = require('node:worker_threads');
// Core modules up to this size are compiled on this thread; larger ones (an interpreter
// made into a component, say) through the async path, which compiles on every core.
const SYNC_COMPILE_MAX = 1 << 20;

const t0 = performance.now();
const [shimDir, appDir, preopens, ...args] = process.argv.slice(2);
const env = process.env.WASMPACK_APP_ENV ?? '{}';
const times = process.env.WASMPACK_JCO_TIMES === '1' ? [['node start', t0]] : null;
const mark = (what, note = '') => times?.push([what, performance.now() - times.reduce((a, [, d]) => a + d, 0), note]);
const fail = (m) => { process.stderr.write(`wasmpack: jco engine: ${m}\n`); process.exit(1); };

// A script made at transpile time, compiled with its code cache, and called as node calls
// a CommonJS file; it may require Node's own modules only.
function loadCached(name, filename, requireFn) {
  const code = readFileSync(`${appDir}/${name}.cjs`, 'utf8');
  let cachedData;
  try { cachedData = readFileSync(`${appDir}/${name}.cache`); } catch { /* compiled afresh */ }
  const script = new vm.Script(code, { filename: `${appDir}/${name}.cjs`, cachedData });
  const module = { exports: {} };
  script.runInThisContext()(module.exports, requireFn, module, filename, filename.replace(/\/[^/]*$/, ''));
  return { exports: module.exports, cached: cachedData !== undefined && !script.cachedDataRejected };
}

// The shim's I/O thread, a second V8 isolate: the bundle answers a file's I/O on this
// thread (jco-io.mjs), so it is started at once only for a component that imports sockets
// or HTTP (it serves those), else on the first call it serves (a read of stdin that must
// not block, a socket's); WASMPACK_JCO_IO=worker sends every call there, as preview2-shim
// alone does. It compiles the bundled worker.cjs with its code cache and loads Node's
// modules the shim's I/O needs, then waits for the workerData the shim's synckit would
// have started it with, which the Worker the shim asks for (below) hands it.
let wanted = [];
try { wanted = JSON.parse(readFileSync(`${appDir}/imports.json`, 'utf8')); } catch (e) { fail(`the transpiled component's imports.json: ${e.message}`); }
const ioOpts = {
  eager: wanted.some((n) => n.startsWith('wasi:sockets/') || n.startsWith('wasi:http/')),
  worker: process.env.WASMPACK_JCO_IO === 'worker',
};
globalThis[Symbol.for('wasmpack.jco-io')] = ioOpts;
const hasWorkerBundle = existsSync(`${appDir}/worker.cjs`);
let ioWorker = hasWorkerBundle && (ioOpts.eager || ioOpts.worker) ? startIoWorker() : null;

function startIoWorker() {
  const io = `${shimDir}/dist/io`;
  const worker = new workerThreads.Worker(`'use strict';
const { readFileSync } = require('node:fs');
const vm = require('node:vm');
const threads = require('node:worker_threads');
const dir = ${JSON.stringify(appDir)};
let cachedData;
try { cachedData = readFileSync(dir + '/worker.cache'); } catch {}
const run = new vm.Script(readFileSync(dir + '/worker.cjs', 'utf8'), { filename: dir + '/worker.cjs', cachedData }).runInThisContext();
for (const m of ['node:http', 'node:https', 'node:net', 'node:dns', 'node:dgram', 'node:stream'])
  require(m);
threads.parentPort.once('message', ({ workerData }) => {
  const own = { ...threads, workerData };
  const module = { exports: {} };
  run(module.exports, (id) => (id === 'node:worker_threads' ? own : require(id)), module,
    ${JSON.stringify(`${io}/worker-filesystem.js`)}, ${JSON.stringify(io)});
});
`, { eval: true });
  worker.unref();
  return worker;
}

// node:worker_threads as the bundle sees it: the Worker for the shim's I/O thread is the
// one started above.
const bundleWorkerThreads = {
  ...workerThreads,
  Worker: class extends workerThreads.Worker {
    constructor(url, options) {
      if (!hasWorkerBundle || !String(url).endsWith('/worker-thread.bundle.js'))
        return super(url, options);
      ioWorker ??= startIoWorker();
      mark('I/O thread asked for');
      ioWorker.postMessage({ workerData: options.workerData }, options.transferList);
      return ioWorker;
    }
  },
};

// What the bundle may require: Node's own modules (a consistency check, not a boundary:
// the app's process is confined by the OS, as when it imported app.js itself).
const { isBuiltin } = require('node:module');
function nodeOnly(id) {
  if (isBuiltin(id))
    return id === 'node:worker_threads' || id === 'worker_threads' ? bundleWorkerThreads : require(id);
  throw new Error(`the bundle asked for '${id}', which is not Node's own`);
}

async function load() {
  if (existsSync(`${appDir}/bundle.cjs`)) {
    const { exports, cached } = loadCached('bundle', `${shimDir}/dist/io/worker-io.js`, nodeOnly);
    mark(cached ? 'JS load (code cache)' : 'JS load (compiled, no usable code cache)');
    return exports;
  }
  const { WASIShim } = await import(pathToFileURL(`${shimDir}/dist/common/instantiation.js`));
  const { instantiate } = await import(pathToFileURL(`${appDir}/app.js`));
  mark('JS load (ES modules, no bundle)');
  return { WASIShim, instantiate };
}

async function main() {
  let inst;
  try {
    const { WASIShim, instantiate } = await load();
    const shim = new WASIShim({ sandbox: { preopens: JSON.parse(preopens), env: JSON.parse(env), args, enableNetwork: false } });
    const provided = shim.getImportObject();
    const missing = wanted.filter((n) => !(n.replace(/@[^@/]*$/, '') in provided));
    if (missing.length)
      fail(`the component imports ${missing.join(', ')}, which this engine does not provide `
        + `(it provides ${[...new Set(Object.keys(provided).map((k) => k.split('/')[0]))].join(', ')})`);
    let compile = 0;
    inst = await instantiate((p) => {
      const s = performance.now();
      const bytes = readFileSync(new URL(p, pathToFileURL(`${appDir}/`)));
      if (bytes.length > SYNC_COMPILE_MAX)
        return WebAssembly.compile(bytes);
      const m = new WebAssembly.Module(bytes);
      compile += performance.now() - s;
      return m;
    }, provided);
    mark(`wasm compile + instantiate`, ` (wasm compile ${compile.toFixed(1)} ms)`);
  } catch (e) { fail(e?.message ?? String(e)); }
  if (!inst?.run?.run)
    fail('the component exports no wasi:cli/run: it is no command (an HTTP component runs with spin or wasmtime serve)');
  if (times)
    process.on('exit', () => {
      mark('app');
      process.stderr.write(`wasmpack: jco start: ${times.map(([w, d, n = '']) => `${w} ${d.toFixed(1)} ms${n}`).join(', ')}\n`);
    });
  try { await inst.run.run(); } catch (e) { fail(e?.message ?? String(e)); }
  process.exit(0);
}
main();
