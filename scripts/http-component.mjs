// Makes a component of a core module: embeds the world WORLD of the WIT folder WITDIR
// (its packages under deps/) and wraps it, as `jco embed --wit` then `jco new` would.
// jco 1.35's own `embed --wit` cannot read a WIT folder: its wasm-tools runs on a
// preview2-shim whose default preopens are now empty (a panic, "No such file"), so this
// gives that shim the WIT folder as a preopen first, then calls the same functions.
// usage: node http-component.mjs JCO-TRANSPILE-DIR CORE.wasm WITDIR WORLD OUT.wasm
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [dir, core, wit, world, out] = process.argv.slice(2);
if (!out) {
  process.stderr.write('usage: http-component.mjs JCO-TRANSPILE-DIR CORE.wasm WITDIR WORLD OUT.wasm\n');
  process.exit(2);
}
const shim = pathToFileURL(resolve(dir, 'node_modules/@bytecodealliance/preview2-shim/dist/nodejs/filesystem.js'));
const tools = pathToFileURL(resolve(dir, 'dist/wasm-tools.js'));
const { _setPreopens } = await import(shim);
const { componentEmbed, componentNew } = await import(tools);
const witPath = resolve(wit);
_setPreopens({ [witPath]: witPath });
const embedded = await componentEmbed({ binary: readFileSync(core), witPath, world });
writeFileSync(out, await componentNew(embedded));
