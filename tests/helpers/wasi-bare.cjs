// A WASI testsuite case on bare Node.js WASI, the way the suite's adapters run an engine:
// node wasi-bare.cjs WASM ARGV0 PREOPENS_JSON ENV_JSON [ARGS...]; preopens map guest names
// (relative as the suite names them, or absolute) to host folders; exits with the case's code.
'use strict';
const { WASI } = require('node:wasi');
const fs = require('node:fs');
const [wasm, argv0, preopens, env, ...args] = process.argv.slice(2);
const wasi = new WASI({
  version: 'preview1',
  args: [argv0, ...args],
  env: JSON.parse(env),
  preopens: JSON.parse(preopens),
  returnOnExit: true,
});
const compiled = new WebAssembly.Module(fs.readFileSync(wasm));
const instance = new WebAssembly.Instance(compiled, wasi.getImportObject());
process.exitCode = wasi.start(instance);
