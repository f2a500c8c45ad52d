// wasmpack's node launcher: runs a WASI preview1 module with node:wasi.
// argv: launcher WASM PREOPENS-JSON ARG...; the app's env: WASMPACK_APP_ENV (JSON).
// Embedded in the binaries at build time (scripts/embed.sh) and written into the node
// cache once per content.
'use strict';
const { WASI } = require('node:wasi');
const fs = require('node:fs');
const [wasm, preopens, ...args] = process.argv.slice(2);
const env = JSON.parse(process.env.WASMPACK_APP_ENV ?? '{}');
const wasi = new WASI({ version: 'preview1', args, env, preopens: JSON.parse(preopens), returnOnExit: true });
// getImportObject came with node 19.8/18.16; wasiImport is there since 12.16.
const imports = typeof wasi.getImportObject === 'function' ? wasi.getImportObject() : { wasi_snapshot_preview1: wasi.wasiImport };
WebAssembly.compile(fs.readFileSync(wasm))
  .then((m) => WebAssembly.instantiate(m, imports))
  .then((instance) => { process.exitCode = wasi.start(instance); })
  .catch((e) => { console.error(`wasmpack: node engine: ${e.message}`); process.exitCode = 1; });
