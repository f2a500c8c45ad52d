// wasmpack's Spin HTTP trigger (the engine spin-jco): serves a Spin app's HTTP components,
// transpiled by jco into the node cache, on Node.js with preview2-shim's WASI.
//
// The main thread owns the listening socket (bound by wasmpack in C and handed in as a
// descriptor), routes as Spin's HTTP trigger routes, adds Spin's headers and hands each
// request to a pool of worker threads. A worker runs one request at a time in a fresh
// instance of the component (made ahead of the request, from core modules compiled once
// in the main thread and shared), so a slow request holds one worker, not the server.
// The request's body reaches the worker through a message port it reads synchronously
// (preview2-shim's I/O is synchronous, Atomics.wait); the response goes back as messages.
// Variables, key-value (one store per app, kept by the main thread), the outbound
// allow-list and Spin's platform interfaces (refused as Spin refuses them when not
// granted) are provided here.
//
// preview2-shim defects worked around here, so that a later version can drop them:
// - its HTTP server answers only through process-wide streams of its I/O thread and
//   exits the process on an error response or a response without a body: the incoming
//   side (request, bodies, response-outparam) is ours, subclassing its classes so that
//   jco's resource checks accept them;
// - a denied outbound request throws the string "access-denied", which is no
//   error-code: ours throws HTTP-request-denied.
//
// argv: runner SHIM-DIR; the plan (JSON) read from the descriptor WASMPACK_SPIN_PLAN_FD
// (a memfd: the variables' values stay out of the environment), the listening socket in
// WASMPACK_LISTEN_FD.
import { Worker, isMainThread, parentPort, workerData, receiveMessageOnPort, MessageChannel } from 'node:worker_threads';
import { readFileSync, readdirSync, openSync, writeSync, fsyncSync, closeSync, renameSync, existsSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import http from 'node:http';
import { availableParallelism } from 'node:os';

const say = (m) => process.stderr.write(`wasmpack: spin: ${m}\n`);
// Not passed either way: hop-by-hop headers, as wasi:http hosts drop them (the request's
// host is its authority, not a header).
const hopByHop = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'trailers',
  'upgrade', 'proxy-authenticate', 'proxy-authorization', 'http2-settings']);
const SIG_IN = 0, SIG_ACKED = 1;        // the worker's signal words
const OUT_WINDOW = 64;                  // response chunks in flight from a worker
const IN_WINDOW = 32;                   // request chunks queued for a worker
const QUEUE_MAX = 4096;                 // requests waiting for a worker, past which 503
const DEADLINE_MS = 600_000;            // a request's longest stay in a worker (its worker is then replaced)
const WAGI_BODY_MAX = 64 << 20;         // a WAGI request's body, held whole for stdin

// ---------------------------------------------------------------------------------------
// Shared by both sides: names, templates, the allow-list.

// Why a variable name is not one Spin accepts, or null.
function varNameProblem(name) {
  if (!name) return 'must not be empty';
  const bad = /[^a-z0-9_]/.exec(name);
  if (bad) return `invalid character '${bad[0]}'. Variable names may contain only lower-case letters, numbers, and underscores.`;
  if (!/^[a-z]/.test(name)) return 'must start with a lowercase ASCII letter';
  if (!/[a-z0-9]$/.test(name)) return 'must end with a lowercase ASCII letter or digit';
  if (name.includes('__')) return 'must not contain multiple consecutive underscores';
  return null;
}

// "{{ name }}" replaced by value(name); undefined when a name has no value.
function expand(template, value) {
  let missing = null;
  const out = template.replace(/\{\{\s*([^}\s]*)\s*\}\}/g, (_, name) => {
    const v = value(name);
    if (v === undefined && missing === null) missing = name;
    return v ?? '';
  });
  return missing === null ? { value: out } : { missing };
}

// One allowed_outbound_hosts entry: scheme://host[:port], each part possibly a wildcard.
function parseRule(rule) {
  const m = /^([a-z*][a-z0-9+.-]*|\*):\/\/(\[[^\]]+\]|[^:/]*)(?::([0-9*]+(?:\.\.[0-9]+)?))?\/?$/i.exec(rule);
  if (!m) return null;
  let ports = null;
  if (m[3] === '*') ports = '*';
  else if (m[3] && m[3].includes('..')) {
    const [lo, hi] = m[3].split('..').map(Number);
    ports = [lo, hi - 1];
  } else if (m[3]) ports = [Number(m[3]), Number(m[3])];
  return { rule, scheme: m[1].toLowerCase(), host: m[2].toLowerCase(), ports };
}

const defaultPort = { http: 80, https: 443 };

function allowed(rules, scheme, host, port) {
  host = host.toLowerCase();
  for (const r of rules) {
    if (r.scheme !== '*' && r.scheme !== scheme) continue;
    if (r.host !== '*' && r.host !== host &&
        !(r.host.startsWith('*.') && host.endsWith(r.host.slice(1)) && host.length > r.host.length - 1)) continue;
    const ports = r.ports ?? (defaultPort[r.scheme] ? [defaultPort[r.scheme], defaultPort[r.scheme]]
      : [defaultPort[scheme], defaultPort[scheme]]);
    if (ports !== '*' && !(port >= ports[0] && port <= ports[1])) continue;
    return r;
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// The main thread: the server, the router, the pool, the key-value stores.

function splitPath(p) {
  return p.split('/').filter((s, i, a) => !(s === '' && (i === 0 || i === a.length - 1)));
}

// A route of the manifest, as Spin's router reads it: "/..." and "/x/..." (or "/x/*")
// match the prefix and everything below it, ":name" one segment, anything else exactly;
// leading and trailing slashes do not count ("/x" matches "/x/").
function compileRoute(base, route) {
  const trim = (p) => (p.startsWith('/') ? p : '/' + p).replace(/\/$/, '');
  const full = (base === '/' ? '' : trim(base)) + trim(route);
  let segs = splitPath(full);
  let wildcard = false;
  if (segs.length && (segs[segs.length - 1] === '...' || segs[segs.length - 1] === '*')) {
    wildcard = true;
    segs = segs.slice(0, -1);
  }
  return { full, segs, wildcard, kinds: [...segs.map((s) => (s.startsWith(':') ? 1 : 0)), ...(wildcard ? [2] : [])] };
}

function matchRoute(r, segs) {
  if (r.wildcard ? segs.length < r.segs.length : segs.length !== r.segs.length) return null;
  const names = {};
  for (let i = 0; i < r.segs.length; i++) {
    const s = r.segs[i];
    if (s.startsWith(':')) {
      if (!segs[i]) return null;
      names[s.slice(1)] = segs[i];
    } else if (s !== segs[i]) return null;
  }
  return names;
}

// The order routes are tried in: position by position an exact segment before a
// parameter before a wildcard, then the longer route first (so the longest wildcard
// prefix wins and an exact route beats a wildcard).
function cmpRank(a, b) {
  for (let i = 0; i < Math.min(a.kinds.length, b.kinds.length); i++)
    if (a.kinds[i] !== b.kinds[i]) return a.kinds[i] - b.kinds[i];
  return b.kinds.length - a.kinds.length || a.order - b.order;
}

class KvStore {
  // A store is a map kept in memory and, with a file, an append-only log of ours
  // (docs/spin.md): a header line, then one JSON line per change, compacted at open.
  constructor(name, file) {
    this.name = name;
    this.file = file;
    this.map = new Map();
    this.fd = -1;
    if (!file) return;
    let lines = 0;
    if (existsSync(file)) {
      const text = readFileSync(file, 'utf8').split('\n');
      if (text[0] !== 'wasmpack-kv 1') throw new Error(`key-value store '${name}': ${file} is not a store of wasmpack's`);
      for (const line of text.slice(1)) {
        if (!line) continue;
        let e;
        try { e = JSON.parse(line); } catch { break; } // a torn last line: what came before stands
        lines++;
        if (e.v === undefined) this.map.delete(e.k);
        else this.map.set(e.k, e.v);
      }
    }
    if (!existsSync(file) || lines > 2 * this.map.size + 16) this.compact();
    this.fd = openSync(file, 'a', 0o600);
  }
  compact() {
    const tmp = `${this.file}.tmp-${process.pid}`;
    const fd = openSync(tmp, 'w', 0o600);
    writeSync(fd, 'wasmpack-kv 1\n');
    for (const [k, v] of this.map) writeSync(fd, JSON.stringify({ k, v }) + '\n');
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, this.file);
  }
  log(k, v) {
    if (this.fd >= 0) writeSync(this.fd, JSON.stringify(v === undefined ? { k } : { k, v }) + '\n');
  }
  // keys and values travel as base64
  op(op, key, value) {
    switch (op) {
      case 'get': return this.map.get(key) ?? null;
      case 'set': this.map.set(key, value); this.log(key, value); return null;
      case 'delete': this.map.delete(key); this.log(key); return null;
      case 'exists': return this.map.has(key);
      case 'keys': return [...this.map.keys()];
    }
    return null;
  }
}

async function main() {
  // Nobody may be reading the log (a container started detached): the server goes on.
  for (const s of [process.stdout, process.stderr]) s.on('error', () => {});
  const planFd = Number(process.env.WASMPACK_SPIN_PLAN_FD ?? NaN);
  const fd = Number(process.env.WASMPACK_LISTEN_FD ?? NaN);
  delete process.env.WASMPACK_SPIN_PLAN_FD;
  delete process.env.WASMPACK_LISTEN_FD;
  let plan = null;
  try {
    plan = JSON.parse(readFileSync(planFd, 'utf8'));
    closeSync(planFd);
  } catch { plan = null; }
  if (!plan || !Number.isInteger(fd) || fd < 0) {
    say('no plan (WASMPACK_SPIN_PLAN_FD) or no listening socket (WASMPACK_LISTEN_FD): this runner is started by wasmpack');
    process.exit(2);
  }
  const shimDir = process.argv[2];
  const verbose = !!plan.verbose;

  // Variables: the app's [variables], values from the plan (SPIN_VARIABLE_*, --variable)
  // over defaults; a required one without a value stops the start, naming it.
  const values = {};
  for (const [name, v] of Object.entries(plan.variables ?? {})) {
    const given = plan.values?.[name];
    if (given !== undefined) values[name] = given;
    else if (v.default !== undefined) values[name] = v.default;
    else {
      say(`the variable '${name}' is required and has no value: set SPIN_VARIABLE_${name.toUpperCase()} or --variable ${name}=VALUE`);
      process.exit(1);
    }
  }
  // Each component's variables (its templates) and allow-list, resolved once.
  for (const [id, c] of Object.entries(plan.components)) {
    c.vars = {};
    for (const [k, t] of Object.entries(c.variables ?? {})) {
      const r = expand(String(t), (n) => values[n]);
      if (r.missing !== undefined) {
        say(`component '${id}': the variable '${k}' names '${r.missing}', which the app does not declare`);
        process.exit(1);
      }
      c.vars[k] = r.value;
    }
    for (const label of c.key_value_stores ?? [])
      if (label !== 'default' && !plan.kv?.[label]) {
        say(`component '${id}': the key-value store '${label}' is not defined (only 'default' is, unless a runtime config defines more)`);
        process.exit(1);
      }
    c.rules = [];
    for (const h of c.allowed_outbound_hosts ?? []) {
      const r = expand(h, (n) => values[n]);
      if (r.missing !== undefined) {
        say(`component '${id}': allowed_outbound_hosts entry '${h}' names the variable '${r.missing}', which has no value`);
        process.exit(1);
      }
      const rule = parseRule(r.value);
      if (!rule || (!rule.ports && rule.scheme !== '*' && !defaultPort[rule.scheme])) {
        say(`component '${id}': allowed_outbound_hosts entry '${h}' is not scheme://host[:port]`
          + (rule ? ` (the scheme '${rule.scheme}' has no default port)` : ''));
        process.exit(1);
      }
      c.rules.push(rule);
    }
  }

  // The routes: private ones are not routable; exact before wildcard, longest prefix first.
  const byRaw = new Map();
  for (const r of plan.routes.filter((x) => !x.private)) {
    if (byRaw.has(r.route))
      say(`the route ${r.route} of ${byRaw.get(r.route).component ?? 'a static response'} is a duplicate and will never be used (${r.component ?? 'a static response'} has it too)`);
    byRaw.set(r.route, r);
  }
  const routes = [...byRaw.values()].map((r, order) => ({ ...r, order, ...compileRoute(plan.base ?? '/', r.route) }));
  routes.sort(cmpRank);

  // Key-value stores: one per label for the app, in memory or in the state folder.
  const stores = new Map();
  const storeFor = (label) => {
    if (!stores.has(label)) {
      // a store the runtime config defines is where it says (in memory without a path),
      // another in the state folder, or in memory without one
      const file = plan.kv?.[label] ? plan.kv[label].path ?? null
        : plan.state_dir ? `${plan.state_dir}/kv-${Buffer.from(label).toString('hex')}.log` : null;
      stores.set(label, new KvStore(label, file));
    }
    return stores.get(label);
  };

  // The core modules of every component, compiled once, shared by the workers.
  const modules = {};
  for (const [id, c] of Object.entries(plan.components)) {
    modules[id] = {};
    if (c.wagi) modules[id].wagi = await WebAssembly.compile(readFileSync(c.wagi.module));
    else
      for (const f of readdirSync(c.dir).filter((f) => f.endsWith('.wasm')))
        modules[id][f] = await WebAssembly.compile(readFileSync(`${c.dir}/${f}`));
  }

  const nworkers = plan.workers > 0 ? plan.workers : availableParallelism();
  // Past the pool, workers are added while requests wait with every worker held (a slow
  // outbound call holds its worker: preview2-shim's I/O is synchronous), up to this many,
  // and leave once idle for a while.
  const maxWorkers = Math.max(nworkers * 4, nworkers + 4);
  let starting = 0;
  const workers = [];
  const idle = [];
  const queue = [];
  const inflight = new Map();
  let nextId = 1, draining = false;

  const startWorker = () => new Promise((resolve, reject) => {
    const sig = new Int32Array(new SharedArrayBuffer(8));
    const chan = new MessageChannel();
    const w = new Worker(new URL(import.meta.url), {
      workerData: { shimDir, plan, modules, sig, port: chan.port2 },
      transferList: [chan.port2],
      env: {},
      stdout: false, stderr: false,
      // each instance leaves short-lived garbage (jco's glue): a larger young generation
      // collects it in fewer, cheaper scavenges
      resourceLimits: { maxYoungGenerationSizeMb: 32 },
    });
    const wk = { w, sig, port: chan.port1, job: null, ready: false };
    const poke = () => { Atomics.add(sig, SIG_IN, 1); Atomics.notify(sig, SIG_IN); };
    wk.send = (m) => { wk.port.postMessage(m); poke(); };
    w.on('message', (m) => onWorker(wk, m, resolve, reject));
    w.on('error', (e) => {
      if (!wk.ready) return reject(e);
      say(`a worker failed: ${e?.message ?? e}`);
    });
    w.on('exit', (code) => {
      if (!wk.ready) return reject(new Error(`a worker exited (${code}) before it was ready`));
      if (workers.includes(wk)) workers.splice(workers.indexOf(wk), 1);
      const i = idle.indexOf(wk);
      if (i >= 0) idle.splice(i, 1);
      if (wk.job) fail(wk.job, 500);
      if (!draining && !wk.retired) startWorker().then((nw) => { workers.push(nw); free(nw); }, (e) => say(`cannot restart a worker: ${e.message}`));
    });
  });

  function fail(job, status) {
    clearTimeout(job.deadline);
    inflight.delete(job.id);
    if (!job.res.headersSent) {
      job.res.writeHead(status, { 'content-length': 0 });
      job.res.end();
    } else job.res.destroy();
    job.done = true;
    checkDrained();
  }

  function onWorker(wk, m, resolve, reject) {
    switch (m.t) {
      case 'ready': wk.ready = true; resolve(wk); return;
      case 'fatal': reject(new Error(m.msg)); return;
      case 'wait':
        wk.waiting = m.on;
        wk.waitSince = m.on ? performance.now() : 0;
        if (m.on && queue.length && !idle.length) growSoon();
        return;
      case 'kv': {
        let r;
        try {
          const comp = plan.components[m.component];
          if (!(comp.key_value_stores ?? []).includes(m.label)) r = { err: 'access-denied' };
          else r = { ok: storeFor(m.label).op(m.op, m.key, m.value) };
        } catch (e) { r = { err: 'other', msg: String(e?.message ?? e) }; }
        wk.send({ t: 'kv', seq: m.seq, ...r });
        return;
      }
    }
    const job = inflight.get(m.id);
    if (!job || job.worker !== wk) return;
    const res = job.res;
    switch (m.t) {
      case 'head': {
        const headers = [];
        for (const [k, v] of m.headers) {
          if (hopByHop.has(k.toLowerCase())) continue;
          try {
            http.validateHeaderName(k);
            http.validateHeaderValue(k, v);
          } catch {
            say(`component '${job.route.component}': the response header '${String(k).slice(0, 100)}' is not one HTTP allows: dropped`);
            continue;
          }
          headers.push(k, v);
        }
        if (m.empty && m.status !== 204 && m.status !== 304 && m.status >= 200) headers.push('content-length', '0');
        try {
          res.writeHead(m.status, headers);
        } catch (e) {
          say(`component '${job.route.component}': ${e.message}`);
          res.writeHead(500, { 'content-length': 0 });
          res.end();
          return;
        }
        if (m.empty) res.end();
        return;
      }
      case 'chunk':
        res.write(m.data, () => { Atomics.add(wk.sig, SIG_ACKED, 1); Atomics.notify(wk.sig, SIG_ACKED); });
        return;
      case 'ack':
        job.pending--;
        if (job.paused && job.pending < IN_WINDOW / 2) { job.paused = false; job.req.resume(); }
        return;
      case 'done':
        clearTimeout(job.deadline);
        wk.job = null;
        inflight.delete(job.id);
        job.done = true;
        if (!res.headersSent) {
          if (m.error) say(`component '${job.route.component}': ${m.error}`);
          res.writeHead(500, { 'content-length': 0 });
          res.end();
        } else if (!res.writableEnded) {
          if (m.error) { say(`component '${job.route.component}': error after the response began: ${m.error}`); res.destroy(); }
          else res.end();
        }
        free(wk);
        checkDrained();
        return;
    }
  }

  // Workers are added when requests wait while a worker has itself been waiting on I/O
  // for a while (WAIT_GROW_MS): not for the short polls of a busy component's event loop.
  const WAIT_GROW_MS = 25;
  let growTimer = null;
  function growSoon() {
    if (growTimer) return;
    growTimer = setTimeout(() => {
      growTimer = null;
      const now = performance.now();
      if (!queue.length || idle.length) return;
      if (workers.some((w) => w.waiting && now - w.waitSince >= WAIT_GROW_MS)) grow();
      else if (workers.some((w) => w.waiting)) growSoon();
    }, WAIT_GROW_MS);
  }

  function grow() {
    // one at a time, and only while some worker waits on I/O (a busy CPU gains nothing)
    if (draining || starting || workers.length >= maxWorkers) return;
    starting++;
    startWorker().then((nw) => {
      starting--;
      nw.extra = true;
      workers.push(nw);
      free(nw);
      if (queue.length && !idle.length && workers.some((w) => w.waiting)) growSoon();
    }, (e) => { starting--; say(`cannot add a worker: ${e.message}`); });
  }

  function free(wk) {
    clearTimeout(wk.retire);
    const job = queue.shift();
    if (job) return dispatch(wk, job);
    idle.push(wk);
    if (wk.extra)
      wk.retire = setTimeout(() => {
        const i = idle.indexOf(wk);
        if (i < 0 || workers.length <= nworkers) return;
        idle.splice(i, 1);
        workers.splice(workers.indexOf(wk), 1);
        wk.retired = true;
        wk.w.terminate();
      }, 10000);
  }

  function dispatch(wk, job) {
    job.worker = wk;
    wk.job = job;
    inflight.set(job.id, job);
    Atomics.store(wk.sig, SIG_ACKED, 0);
    wk.send({ t: 'req', id: job.id, component: job.route.component, method: job.req.method, path: job.req.url,
      authority: job.authority, headers: job.headers, version: job.req.httpVersion,
      client: job.req.socket.remoteAddress?.replace(/^::ffff:/, '') ?? '' });
    // the body follows, IN_WINDOW chunks ahead of what the worker read
    job.pending = 0;
    job.req.on('data', (chunk) => {
      wk.send({ t: 'body', id: job.id, data: chunk });
      if (++job.pending >= IN_WINDOW && !job.paused) { job.paused = true; job.req.pause(); }
    });
    job.req.on('end', () => wk.send({ t: 'body', id: job.id, end: true }));
    job.req.on('error', () => wk.send({ t: 'body', id: job.id, end: true, error: true }));
    // a client gone (or timed out: requestTimeout) before its body ended: the component
    // reads the end, not a wait with no end
    job.req.on('close', () => { if (!job.req.readableEnded) wk.send({ t: 'body', id: job.id, end: true, error: true }); });
    if (job.req.readableEnded) wk.send({ t: 'body', id: job.id, end: true });
    job.deadline = setTimeout(() => {
      if (job.done || wk.job !== job) return;
      say(`component '${job.route.component}': a request still running after ${DEADLINE_MS / 1000} s: its worker is replaced`);
      wk.w.terminate();
    }, DEADLINE_MS);
  }

  const info = JSON.stringify({ version: plan.version, app: { name: plan.app?.name ?? '', version: plan.app?.version ?? null } }, null, 2);

  function answerStatic(res, st) {
    const body = Buffer.from(st.body ?? '', 'utf8');
    const h = [];
    for (const [k, v] of Object.entries(st.headers ?? {})) if (!hopByHop.has(k.toLowerCase())) h.push(k, String(v));
    h.push('content-length', body.length);
    res.writeHead(st.status_code ?? st.status ?? 200, h);
    res.end(body);
  }

  function onRequest(req, res) {
    try {
      route(req, res);
    } catch (e) {
      say(`a request failed in the trigger: ${e?.message ?? e}`);
      if (!res.headersSent) res.writeHead(500, { 'content-length': 0 });
      res.end();
    }
  }

  function route(req, res) {
    const url = req.url.startsWith('/') ? req.url : '/';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    if (path === '/.well-known/spin/health') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': 2 });
      return res.end('OK');
    }
    if (path === '/.well-known/spin/info') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(info) });
      return res.end(info);
    }
    if (path.startsWith('/.well-known/spin/')) {
      // reserved for the trigger: no app route reaches below it
      res.writeHead(404, { 'content-length': 0 });
      return res.end();
    }
    let segs;
    try { segs = splitPath(path); } catch { segs = null; }
    let route = null, names = null;
    for (const r of segs ? routes : []) if ((names = matchRoute(r, segs))) { route = r; break; }
    if (!route) {
      res.writeHead(404, { 'content-length': 0 });
      return res.end();
    }
    const authority = req.headers.host ?? 'localhost';
    const headers = [];
    const drop = new Set(hopByHop);
    drop.add('host');
    for (const c of (req.headers.connection ?? '').split(',')) if (c.trim()) drop.add(c.trim().toLowerCase());
    for (let i = 0; i < req.rawHeaders.length; i += 2) {
      const k = req.rawHeaders[i].toLowerCase();
      if (!drop.has(k) && !k.startsWith('spin-')) headers.push([k, req.rawHeaders[i + 1]]);
    }
    // what follows the route's own segments, trailing slash kept ("" for an exact route)
    let pathInfo = '';
    if (route.wildcard) {
      let at = 0;
      for (let i = 0; i < route.segs.length; i++) {
        const next = path.indexOf('/', at + 1);
        at = next < 0 ? path.length : next;
      }
      pathInfo = path.slice(at);
    }
    const peer = req.socket.remoteAddress ?? '';
    const client = peer.includes(':') && !peer.startsWith('::ffff:') ? `[${peer}]` : peer.replace(/^::ffff:/, '');
    headers.push(['spin-full-url', `http://${authority}${url}`],
      ['spin-path-info', pathInfo],
      ['spin-matched-route', route.full],
      ['spin-base-path', plan.base ?? '/'],
      ['spin-raw-component-route', route.route],
      ['spin-component-route', route.route.replace(/\/\.\.\.$/, '')],
      ['spin-client-addr', `${client}:${req.socket.remotePort}`]);
    for (const [k, v] of Object.entries(names)) headers.push([`spin-path-match-${k.toLowerCase()}`, v]);
    if (route.static) return answerStatic(res, route.static);
    const job = { id: nextId++, req, res, route, authority, headers, done: false };
    res.on('close', () => { if (!job.done && !job.worker) { const i = queue.indexOf(job); if (i >= 0) queue.splice(i, 1); } });
    const wk = idle.shift();
    if (wk) return dispatch(wk, job);
    if (queue.length >= QUEUE_MAX) {
      res.writeHead(503, { 'content-length': 0, 'retry-after': '1' });
      return res.end();
    }
    queue.push(job);
    if (workers.some((w) => w.waiting)) growSoon();
  }

  let server;
  function checkDrained() {
    if (draining && inflight.size === 0 && queue.length === 0) {
      for (const s of stores.values()) if (s.fd >= 0) closeSync(s.fd);
      process.exit(0);
    }
  }
  const drain = (sig) => {
    if (draining) return;
    draining = true;
    if (verbose) say(`${sig}: no new connections; answering the ${inflight.size + queue.length} requests in flight, then stopping`);
    server.close();
    server.closeIdleConnections();
    checkDrained();
  };

  try {
    for (let i = 0; i < nworkers; i++) workers.push(await startWorker());
  } catch (e) {
    say(e.message);
    process.exit(1);
  }
  // a request's head within 60 s, and its whole body within 300 s (Node's defaults, said
  // here): a client that never sends what it announced does not hold a worker forever
  server = http.createServer({ keepAliveTimeout: 5000, headersTimeout: 60_000, requestTimeout: 300_000 }, onRequest);
  server.on('clientError', (e, sock) => { if (sock.writable) sock.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n'); });
  server.listen({ fd }, () => {
    if (!plan.quiet) {
      say(`serving http://${plan.listen} with ${nworkers} worker${nworkers > 1 ? 's' : ''}`);
      for (const r of routes) say(`  ${r.component ?? '(static)'}: http://${plan.listen}${r.full}`);
    }
  });
  server.on('error', (e) => { say(`the listening socket: ${e.message}`); process.exit(1); });
  for (const w of workers) free(w);
  process.on('SIGTERM', () => drain('SIGTERM'));
  process.on('SIGINT', () => drain('SIGINT'));
}

// ---------------------------------------------------------------------------------------
// A worker: one request at a time, each in a fresh instance of its component.

async function worker() {
  const { shimDir, plan, modules, sig, port } = workerData;
  // jco's glue (1.35) tries WebAssembly.promising, which Node 20 lacks, inside its
  // instantiation: the TypeError V8 makes for calling undefined renders the call site by
  // parsing the glue's whole (huge) function again, about 2.5 ms of every instance. A
  // function that throws the same kind of error takes the same path, at no such cost.
  if (typeof WebAssembly.promising !== 'function') {
    const noJspi = new TypeError('WebAssembly.promising (JSPI) is not available');
    WebAssembly.promising = () => { throw noJspi; };
  }
  const shimUrl = (p) => pathToFileURL(`${shimDir}/dist/${p}`);
  let WASIShim, httpMod, ioMod;
  try {
    ({ WASIShim } = await import(shimUrl('common/instantiation.js')));
    httpMod = await import(shimUrl('nodejs/http.js'));
    ioMod = await import(shimUrl('nodejs/io.js'));
  } catch (e) {
    parentPort.postMessage({ t: 'fatal', msg: `cannot load preview2-shim from ${shimDir}: ${e.message}` });
    return;
  }
  const T = httpMod.types;
  const { InputStream, OutputStream } = ioMod.streams;
  const { Pollable } = ioMod.poll;
  const origPoll = ioMod.poll.poll;
  // The main thread is told while this worker waits on I/O (an outbound response, a
  // timer, a slow client), so that it may add workers instead of queueing behind it.
  let waiting = false;
  const ioWait = (on) => {
    if (on === waiting) return;
    waiting = on;
    parentPort.postMessage({ t: 'wait', on });
  };
  const origBlock = Pollable.prototype.block;
  Pollable.prototype.block = function block() {
    ioWait(true);
    try { return origBlock.call(this); } finally { ioWait(false); }
  };
  const dispose = Symbol.dispose || Symbol.for('dispose');

  // ---- the inbound port: request bodies, key-value replies ----
  let cur = null;          // the request being served
  let kvSeq = 0;
  const kvReplies = new Map();
  const early = [];        // a request's messages that came before it was current
  function take(m) {
    if (m.t === 'kv') kvReplies.set(m.seq, m);
    else if (m.t === 'body') {
      if (cur && m.id === cur.id) {
        if (m.data) {
          cur.chunks.push(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
          cur.got += m.data.byteLength;
          // WAGI holds the body whole: its chunks are taken as they come
          if (cur.wagi) parentPort.postMessage({ t: 'ack', id: cur.id });
        }
        if (m.end) cur.ended = true;
      }
    } else early.push(m);
  }
  function drainPort() {
    let r;
    while ((r = receiveMessageOnPort(port))) take(r.message);
  }
  // Waits (Atomics.wait) until the main thread sends something, at most ms.
  function waitIn(ms) {
    const v = Atomics.load(sig, SIG_IN);
    drainPort();
    if (Atomics.load(sig, SIG_IN) === v) Atomics.wait(sig, SIG_IN, v, ms);
    drainPort();
  }

  // ---- streams of our own, accepted where preview2-shim's are ----
  class ReadyPollable extends Pollable {
    constructor(test) { super(); this.test = test; }
    ready() { return this.test(); }
    block() {
      if (this.test()) return;
      ioWait(true);
      try { while (!this.test()) waitIn(1000); } finally { ioWait(false); }
    }
    [dispose]() {}
  }
  const spinPoll = (list) => {
    // one of ours ready: no wait at all
    const mine = [];
    list.forEach((p, i) => { if (p instanceof ReadyPollable && p.ready()) mine.push(i); });
    if (mine.length) return new Uint32Array(mine);
    ioWait(true);
    try {
      if (!list.some((p) => p instanceof ReadyPollable)) return origPoll(list);
      for (;;) {
        const ready = [];
        list.forEach((p, i) => { if (p.ready()) ready.push(i); });
        if (ready.length) return new Uint32Array(ready);
        waitIn(list.every((p) => p instanceof ReadyPollable) ? 1000 : 2);
      }
    } finally { ioWait(false); }
  };

  class BodyIn extends InputStream {
    constructor(req) { super(); this.req = req; }
    avail() { drainPort(); return this.req.chunks.length > 0 || this.req.ended; }
    read(len) {
      drainPort();
      return this.take(Number(len));
    }
    take(n) {
      const q = this.req.chunks;
      if (!q.length) {
        if (this.req.ended) throw { tag: 'closed' };
        return new Uint8Array(0);
      }
      let c = q[0];
      if (c.length > n) { q[0] = c.subarray(n); c = c.subarray(0, n); } else {
        q.shift();
        parentPort.postMessage({ t: 'ack', id: this.req.id });
      }
      return new Uint8Array(c.buffer, c.byteOffset, c.byteLength).slice();
    }
    blockingRead(len) {
      if (!this.avail()) {
        ioWait(true);
        try { while (!this.avail()) waitIn(1000); } finally { ioWait(false); }
      }
      return this.take(Number(len));
    }
    skip(len) { return BigInt(this.read(len).length); }
    blockingSkip(len) { return BigInt(this.blockingRead(len).length); }
    subscribe() { return new ReadyPollable(() => this.avail()); }
    [dispose]() {}
  }

  // A response chunk to the main thread, at most OUT_WINDOW unacknowledged (a slow client
  // holds the component, not the memory).
  function send(req, buf) {
    req.head();
    for (let off = 0; off < buf.length; off += 65536) {
      while (OUT_WINDOW - (req.sent - Atomics.load(sig, SIG_ACKED)) <= 0)
        Atomics.wait(sig, SIG_ACKED, Atomics.load(sig, SIG_ACKED), 1000);
      const part = buf.slice(off, off + 65536);
      parentPort.postMessage({ t: 'chunk', id: req.id, data: part }, [part.buffer]);
      req.sent++;
    }
  }

  class BodyOut extends OutputStream {
    constructor(req) { super(); this.req = req; }
    room() { return OUT_WINDOW - (this.req.sent - Atomics.load(sig, SIG_ACKED)); }
    checkWrite() {
      if (this.req.finished) throw { tag: 'closed' };
      return this.room() > 0 ? 1048576n : 0n;
    }
    write(buf) {
      if (this.req.finished) throw { tag: 'closed' };
      if (!buf.length) return;
      if (!this.req.response) {
        // written before the response was set: held until it is
        this.req.early.push(buf.slice());
        return;
      }
      send(this.req, buf);
    }
    blockingWriteAndFlush(buf) { this.write(buf); }
    flush() {}
    blockingFlush() {}
    writeZeroes(len) { this.write(new Uint8Array(Number(len))); }
    blockingWriteZeroesAndFlush(len) { this.write(new Uint8Array(Number(len))); }
    splice(src, len) { const b = src.read(len); this.write(b); return BigInt(b.length); }
    blockingSplice(src, len) { const b = src.blockingRead(len); this.write(b); return BigInt(b.length); }
    subscribe() { return new ReadyPollable(() => this.room() > 0); }
    [dispose]() {}
  }

  class SpinFields extends T.Fields {
    constructor(entries) { super(); this.list = entries.map(([k, v]) => [k, Buffer.from(v)]); }
    get(name) { name = name.toLowerCase(); return this.list.filter(([k]) => k === name).map(([, v]) => new Uint8Array(v)); }
    has(name) { name = name.toLowerCase(); return this.list.some(([k]) => k === name); }
    set() { throw { tag: 'immutable' }; }
    delete() { throw { tag: 'immutable' }; }
    append() { throw { tag: 'immutable' }; }
    entries() { return this.list.map(([k, v]) => [k, new Uint8Array(v)]); }
    clone() { return T.Fields.fromList(this.entries().filter(([k]) => !httpMod._forbiddenHeaders.has(k))); }
    [dispose]() {}
  }

  class SpinIncomingBody extends T.IncomingBody {
    constructor(req) { super(); this.req = req; this.given = false; }
    stream() {
      if (this.given) throw undefined;
      this.given = true;
      return new BodyIn(this.req);
    }
    [dispose]() {}
  }

  const methods = new Set(['get', 'head', 'post', 'put', 'delete', 'connect', 'options', 'trace', 'patch']);
  class SpinIncomingRequest extends T.IncomingRequest {
    constructor(req) { super(); this.req = req; this.consumed = false; }
    method() {
      const m = this.req.method.toLowerCase();
      return methods.has(m) ? { tag: m } : { tag: 'other', val: this.req.method };
    }
    pathWithQuery() { return this.req.path; }
    scheme() { return { tag: 'HTTP' }; }
    authority() { return this.req.authority; }
    headers() { return new SpinFields(this.req.headers); }
    consume() {
      if (this.consumed) throw undefined;
      this.consumed = true;
      return new SpinIncomingBody(this.req);
    }
    [dispose]() {}
  }

  class SpinOutgoingBody extends T.OutgoingBody {
    constructor(req) { super(); this.req = req; this.given = false; }
    write() {
      if (this.given) throw undefined;
      this.given = true;
      return new BodyOut(this.req);
    }
    [dispose]() {}
  }
  // finish of our bodies: the end of the response (outgoing requests' bodies stay
  // preview2-shim's)
  const origFinish = T.OutgoingBody.finish;
  T.OutgoingBody.finish = function finish(body, trailers) {
    if (!(body instanceof SpinOutgoingBody)) return origFinish.call(this, body, trailers);
    body.req.head();
    body.req.finished = true;
  };

  class SpinOutgoingResponse extends T.OutgoingResponse {
    body() {
      if (this.spinBody) throw undefined;
      this.spinBody = new SpinOutgoingBody(cur);
      return this.spinBody;
    }
  }

  class SpinOutparam extends T.ResponseOutparam {
    constructor(req) { super(); this.req = req; }
    static set(param, response) {
      const req = param.req;
      if (req.response) throw new Error('the response was already set');
      if (response.tag !== 'ok') {
        req.error = `the component answered with an error (${JSON.stringify(response.val)})`;
        return;
      }
      const r = response.val;
      const status = r.statusCode();
      if (!(status >= 100 && status <= 599)) {
        req.error = `the component answered with the status ${status}, which HTTP does not have`;
        return;
      }
      req.response = r;
      const dec = new TextDecoder();
      req.head = () => {
        if (req.headSent) return;
        req.headSent = true;
        parentPort.postMessage({ t: 'head', id: req.id, status: r.statusCode(), empty: !r.spinBody,
          headers: r.headers().entries().map(([k, v]) => [k, dec.decode(v)]) });
      };
      if (!r.spinBody) req.head();
      else if (req.early.length) for (const b of req.early.splice(0)) send(req, b);
    }
  }

  const types = { ...T, IncomingRequest: T.IncomingRequest, ResponseOutparam: SpinOutparam, OutgoingResponse: SpinOutgoingResponse };

  // ---- Spin's interfaces ----
  function kvCall(component, label, op, key, value) {
    const seq = ++kvSeq;
    parentPort.postMessage({ t: 'kv', seq, component, label, op, key, value });
    while (!kvReplies.has(seq)) waitIn(1000);
    const r = kvReplies.get(seq);
    kvReplies.delete(seq);
    if (r.err) throw r.err === 'other' ? { tag: 'other', val: r.msg } : { tag: r.err };
    return r.ok;
  }
  const b64 = (u8) => Buffer.from(u8).toString('base64');
  function keyValue(component) {
    class Store {
      constructor(label) { this.label = label; }
      static open(label) {
        if (!(plan.components[component].key_value_stores ?? []).includes(label)) {
          say(`component '${component}': key-value store '${label}' refused: not in its key_value_stores`);
          throw { tag: 'access-denied' };
        }
        return new Store(label);
      }
      get(key) { const v = kvCall(component, this.label, 'get', key); return v === null ? undefined : new Uint8Array(Buffer.from(v, 'base64')); }
      set(key, value) { kvCall(component, this.label, 'set', key, b64(value)); }
      delete(key) { kvCall(component, this.label, 'delete', key); }
      exists(key) { return kvCall(component, this.label, 'exists', key); }
      getKeys() { return kvCall(component, this.label, 'keys'); }
      [dispose]() {}
    }
    return { Store };
  }
  function variables(component) {
    const c = plan.components[component];
    return {
      get(name) {
        const bad = varNameProblem(name);
        if (bad) throw { tag: 'invalid-name', val: `"${name}": ${bad}` };
        if (!Object.hasOwn(c.vars, name)) throw { tag: 'undefined', val: `no variable for "${component}"."${name}"` };
        return c.vars[name];
      },
    };
  }
  function outgoing(component) {
    const c = plan.components[component];
    return {
      handle(request, options) {
        const s = request.scheme();
        const scheme = !s ? 'https' : s.tag === 'HTTP' ? 'http' : s.tag === 'HTTPS' ? 'https' : s.val.toLowerCase();
        const auth = request.authority() ?? '';
        // a plain host (letters, digits, dots, dashes; or [IPv6]) and an optional port:
        // nothing preview2-shim might read otherwise (userinfo, a path) reaches the check
        const m = /^([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?$/.exec(auth);
        if (!m) {
          say(`component '${component}': outbound request to '${auth.slice(0, 200)}' refused: not a host[:port]`);
          throw { tag: 'HTTP-request-URI-invalid' };
        }
        const host = m[1];
        const port = m[2] ? Number(m[2]) : defaultPort[scheme];
        if (!allowed(c.rules, scheme, host, port)) {
          say(`component '${component}': outbound request to ${scheme}://${host}:${port} refused: not in its allowed_outbound_hosts`
            + ` (${c.rules.map((r) => r.rule).join(', ') || 'none'})`);
          throw { tag: 'HTTP-request-denied' };
        }
        return httpMod.outgoingHandler.handle(request, options);
      },
    };
  }
  // Spin's platform interfaces a component may import and use only when granted: they
  // instantiate, and each call fails as Spin fails an ungranted one.
  const denied = (err) => new Proxy(function () {}, {
    get: (_, k) => (k === 'prototype' ? {} : (...a) => { void a; throw err; }),
    construct: () => { throw err; },
    apply: () => { throw err; },
  });
  const platform = (err) => new Proxy({}, { get: (_, k) => (typeof k === 'string' ? denied(err) : undefined) });
  const platformErrors = {
    'fermyon:spin/llm': { tag: 'runtime-error', val: 'llm is not available with wasmpack' },
    'fermyon:spin/redis': { tag: 'other', val: 'redis is not available with wasmpack' },
    'fermyon:spin/mqtt': { tag: 'connection-failed', val: 'mqtt is not available with wasmpack' },
    'fermyon:spin/postgres': { tag: 'connection-failed', val: 'postgres is not available with wasmpack' },
    'fermyon:spin/mysql': { tag: 'connection-failed', val: 'mysql is not available with wasmpack' },
    'fermyon:spin/sqlite': { tag: 'access-denied' },
    'fermyon:spin/rdbms-types': null,
    'spin:postgres/postgres': { tag: 'connection-failed', val: 'postgres is not available with wasmpack' },
    'spin:sqlite/sqlite': { tag: 'access-denied' },
    'spin:mqtt/mqtt': { tag: 'connection-failed', val: 'mqtt is not available with wasmpack' },
    'spin:redis/redis': { tag: 'other', val: 'redis is not available with wasmpack' },
  };

  // ---- the components: imports, core modules, instances made ahead ----
  const comps = {};
  for (const [id, c] of Object.entries(plan.components)) {
    if (c.wagi) {
      comps[id] = { wagi: c };
      continue;
    }
    const shim = new WASIShim({ sandbox: { preopens: c.files ?? {}, env: c.env ?? {}, args: [id], enableNetwork: false } });
    const base = shim.getImportObject();
    const imports = {
      ...base,
      'wasi:http/types': types,
      'wasi:http/outgoing-handler': outgoing(id),
      'wasi:io/poll': { ...base['wasi:io/poll'], poll: spinPoll },
      'fermyon:spin/variables': variables(id),
      'spin:variables/variables': variables(id),
      'fermyon:spin/key-value': keyValue(id),
      'spin:key-value/key-value': keyValue(id),
    };
    for (const [k, err] of Object.entries(platformErrors)) imports[k] = err ? platform(err) : {};
    let wanted;
    try { wanted = JSON.parse(readFileSync(`${c.dir}/imports.json`, 'utf8')); } catch { wanted = []; }
    const missing = wanted.filter((n) => !(n.replace(/@[^@/]*$/, '') in imports));
    if (missing.length) {
      parentPort.postMessage({ t: 'fatal', msg: `component '${id}' imports ${missing.join(', ')}, which this engine does not provide` });
      return;
    }
    let instantiate;
    try {
      ({ instantiate } = await import(pathToFileURL(`${c.dir}/app.js`)));
    } catch (e) {
      parentPort.postMessage({ t: 'fatal', msg: `component '${id}': ${e.message}` });
      return;
    }
    const make = () => {
      const ex = instantiate((p) => modules[id][p], imports);
      const h = ex.incomingHandler ?? Object.entries(ex).find(([k]) => k.startsWith('wasi:http/incoming-handler@'))?.[1];
      if (!h?.handle) throw new Error('it exports no wasi:http/incoming-handler: it is no HTTP component');
      return h;
    };
    comps[id] = { make, spare: null };
    try { comps[id].spare = make(); } catch (e) {
      parentPort.postMessage({ t: 'fatal', msg: `component '${id}': ${e.message}` });
      return;
    }
  }

  const { WASI } = await import('node:wasi');

  // WAGI (Spin's executor for wasip1 modules): CGI over WASI. The request's body on stdin,
  // its facts in the environment, the response (CGI headers, a blank line, the body) on
  // stdout; a fresh instance per request.
  function serveWagi(m, req, c) {
    if (!req.ended) {
      ioWait(true);
      while (!req.ended && req.got <= WAGI_BODY_MAX) waitIn(1000);
      ioWait(false);
    }
    if (req.got > WAGI_BODY_MAX) {
      parentPort.postMessage({ t: 'head', id: req.id, status: 413, empty: true, headers: [] });
      req.headSent = true;
      return;
    }
    const body = Buffer.concat(req.chunks);
    req.chunks = [];
    const q = m.path.indexOf('?');
    const path = q >= 0 ? m.path.slice(0, q) : m.path;
    const query = q >= 0 ? m.path.slice(q + 1) : '';
    const hv = (n) => m.headers.find(([k]) => k === n)?.[1];
    const [host, port] = (m.authority ?? '').split(':');
    const env = { ...(c.env ?? {}) };
    Object.assign(env, {
      AUTH_TYPE: '', CONTENT_LENGTH: String(body.length), CONTENT_TYPE: '', GATEWAY_INTERFACE: 'CGI/1.1',
      QUERY_STRING: query, REMOTE_ADDR: m.client, REMOTE_HOST: m.client, REMOTE_USER: '', REQUEST_METHOD: m.method,
      SCRIPT_NAME: (hv('spin-component-route') ?? ''), SERVER_NAME: host || 'localhost', SERVER_PORT: port || '80',
      SERVER_PROTOCOL: `HTTP/${m.version}`, SERVER_SOFTWARE: 'WAGI/1',
    });
    for (const [k, v] of m.headers) {
      if (k.startsWith('spin-')) {
        const name = k === 'spin-path-info' ? 'PATH_INFO' : 'X_' + k.slice(5).toUpperCase().replace(/-/g, '_');
        env[name] = v;
      } else if (k !== 'authorization' && k !== 'connection') env['HTTP_' + k.toUpperCase().replace(/-/g, '_')] = v;
    }
    env.X_RAW_PATH_INFO = env.PATH_INFO ?? '';
    try { env.PATH_TRANSLATED = decodeURIComponent(env.PATH_INFO ?? ''); } catch { env.PATH_TRANSLATED = env.PATH_INFO ?? ''; }
    const args = (c.wagi.argv ?? '${SCRIPT_NAME} ${ARGS}').replace('${SCRIPT_NAME}', path)
      .replace('${ARGS}', query.replace(/&/g, ' ')).split(' ');
    const wasi = new WASI({ version: 'preview1', args, env, preopens: c.files ?? {}, returnOnExit: true });
    const out = [];
    let off = 0, inst;
    const real = wasi.wasiImport;
    const mem = () => new DataView(inst.exports.memory.buffer);
    const iovs = (ptr, n) => {
      const d = mem(), list = [];
      for (let i = 0; i < n; i++) list.push([d.getUint32(ptr + i * 8, true), d.getUint32(ptr + i * 8 + 4, true)]);
      return list;
    };
    const imports = { wasi_snapshot_preview1: { ...real,
      fd_write(fd, ptr, n, nw) {
        if (fd !== 1) return real.fd_write(fd, ptr, n, nw);
        let total = 0;
        for (const [b, len] of iovs(ptr, n)) { out.push(Buffer.from(new Uint8Array(inst.exports.memory.buffer, b, len))); total += len; }
        mem().setUint32(nw, total, true);
        return 0;
      },
      fd_read(fd, ptr, n, nr) {
        if (fd !== 0) return real.fd_read(fd, ptr, n, nr);
        let total = 0;
        for (const [b, len] of iovs(ptr, n)) {
          const k = Math.min(len, body.length - off);
          new Uint8Array(inst.exports.memory.buffer, b, k).set(body.subarray(off, off + k));
          off += k;
          total += k;
        }
        mem().setUint32(nr, total, true);
        return 0;
      },
    } };
    inst = new WebAssembly.Instance(modules[m.component].wagi, imports);
    const code = wasi.start(inst);
    if (code !== 0) throw new Error(`the WAGI module exited with ${code}`);
    const stdout = Buffer.concat(out);
    if (!stdout.length) throw new Error('the component is configured to use the WAGI executor but did not write to stdout');
    // headers up to the first blank line (CRs in them dropped), then the body
    let i = 0, start = 0;
    const lines = [];
    for (; i < stdout.length; i++) {
      if (stdout[i] !== 10) continue;
      const line = stdout.subarray(start, i).toString('latin1').replace(/\r/g, '');
      start = i + 1;
      if (!line) break;
      lines.push(line);
    }
    const rest = stdout.subarray(Math.min(start, stdout.length));
    const headers = [];
    let status = null, sufficient = false, location = false, bad = false;
    for (const line of lines) {
      const colon = line.indexOf(':');
      if (colon < 0) continue;
      const k = line.slice(0, colon).trim(), v = line.slice(colon + 1).trim();
      const lk = k.toLowerCase();
      if (lk === 'status') {
        const n = parseInt(v.split(' ')[0], 10);
        if (!(n >= 100 && n <= 999)) bad = true; else status = n;
        sufficient = true;
      } else {
        if (lk === 'content-type') sufficient = true;
        if (lk === 'location') { sufficient = true; location = true; }
        if (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k) && !/[\r\n\0]/.test(v)) headers.push([k, v]);
      }
    }
    const reply = (st, hs, b) => {
      parentPort.postMessage({ t: 'head', id: req.id, status: st, empty: !b.length, headers: hs });
      req.headSent = true;
      req.head = () => {};
      if (b.length) send(req, new Uint8Array(b));
    };
    if (bad) return reply(502, [], Buffer.alloc(0));
    if (!sufficient) return reply(500, [], Buffer.from("Exactly one of 'location' or 'content-type' must be specified"));
    return reply(status ?? (location ? 302 : 200), headers, rest);
  }

  function serve(m) {
    const comp = comps[m.component];
    const req = { id: m.id, method: m.method, path: m.path, authority: m.authority, headers: m.headers, chunks: [], ended: false,
      sent: 0, finished: false, response: null, headSent: false, head: () => {}, error: null, early: [],
      got: 0, wagi: !!comp.wagi };
    cur = req;
    for (const e of early.splice(0)) take(e);
    drainPort();
    let error = null;
    if (comp.wagi) {
      try { serveWagi(m, req, comp.wagi); } catch (e) { error = e?.message ?? String(e); }
      cur = null;
      parentPort.postMessage({ t: 'done', id: m.id, error });
      return;
    }
    try {
      const h = comp.spare ?? comp.make();
      comp.spare = null;
      h.handle(new SpinIncomingRequest(req), new SpinOutparam(req));
    } catch (e) {
      error = e?.message ?? String(e);
    }
    cur = null;
    parentPort.postMessage({ t: 'done', id: m.id, error: error ?? req.error });
    // the next instance, made before the next request
    setImmediate(() => { if (!comp.spare) { try { comp.spare = comp.make(); } catch { comp.spare = null; } } });
  }

  // requests come on the port, between them the worker's loop is free
  port.on('message', (m) => {
    if (m.t === 'req') serve(m);
    else take(m);
  });
  parentPort.postMessage({ t: 'ready' });
}

if (isMainThread) await main();
else await worker();
