// wasmpack's file I/O for preview2-shim, on the app's own thread. preview2-shim sends
// every I/O call (ioCall: a call number, an id, a payload) to a worker thread of its own,
// a second V8 isolate that takes as long to boot as the rest of a component's start. The
// bundle (jco-transpile.mjs) puts this module where the shim's worker-io.js imports
// synckit's createSyncFn: a file's calls (its descriptor, the streams on it, their
// pollables, which are always ready) are answered here with Node's synchronous fs calls,
// the same calls the shim's worker makes on the same paths (which the shim's
// filesystem.js resolves and confines, unchanged), and a clock's pollables (a sleep, a
// poll's timeout: a wait on this thread); every other call goes to the shim's
// worker, started on the first such call (or at once, when the runner asks: a component
// that imports sockets or HTTP). Stdin's blocking reads are answered here too (a blocking
// read of descriptor 0); its first call of another kind (a read that must not block, a
// poll) hands it to the worker for good, which reads on from there.
// globalThis[Symbol.for('wasmpack.jco-io')]: { eager: start the worker at once,
// worker: send every call there, as the shim alone would }.
import { createSyncFn as workerSyncFn } from '__SHIM__/dist/synckit/index.js';
import {
  CALL_MASK, CALL_TYPE_MASK, FILE, STDIN, STDOUT, STDERR, SOCKET_TCP,
  INPUT_STREAM_CREATE, INPUT_STREAM_READ, INPUT_STREAM_BLOCKING_READ, INPUT_STREAM_SKIP,
  INPUT_STREAM_BLOCKING_SKIP, INPUT_STREAM_SUBSCRIBE, INPUT_STREAM_DISPOSE,
  OUTPUT_STREAM_CREATE, OUTPUT_STREAM_CHECK_WRITE, OUTPUT_STREAM_WRITE,
  OUTPUT_STREAM_BLOCKING_WRITE_AND_FLUSH, OUTPUT_STREAM_FLUSH, OUTPUT_STREAM_BLOCKING_FLUSH,
  OUTPUT_STREAM_WRITE_ZEROES, OUTPUT_STREAM_BLOCKING_WRITE_ZEROES_AND_FLUSH, OUTPUT_STREAM_SPLICE,
  OUTPUT_STREAM_BLOCKING_SPLICE, OUTPUT_STREAM_SUBSCRIBE, OUTPUT_STREAM_DISPOSE,
  FILESYSTEM_DESCRIPTOR_OPEN, FILESYSTEM_DESCRIPTOR_CLOSE, FILESYSTEM_DESCRIPTOR_ADVISE,
  FILESYSTEM_DESCRIPTOR_SYNC_DATA, FILESYSTEM_DESCRIPTOR_GET_TYPE, FILESYSTEM_DESCRIPTOR_SET_SIZE,
  FILESYSTEM_DESCRIPTOR_SET_TIMES, FILESYSTEM_DESCRIPTOR_READ, FILESYSTEM_DESCRIPTOR_WRITE,
  FILESYSTEM_DESCRIPTOR_SYNC, FILESYSTEM_DESCRIPTOR_STAT, FILESYSTEM_DESCRIPTOR_METADATA_HASH,
  POLL_POLLABLE_READY, POLL_POLLABLE_BLOCK, POLL_POLLABLE_DISPOSE, POLL_POLL_LIST,
  CLOCKS_DURATION_SUBSCRIBE, CLOCKS_INSTANT_SUBSCRIBE,
} from '__SHIM__/dist/io/calls.js';
import {
  openSync, closeSync, fstatSync, readSync, writeSync, ftruncateSync, futimesSync, fsyncSync, fdatasyncSync,
} from 'node:fs';
import { Buffer } from 'node:buffer';
import process, { hrtime } from 'node:process';

// What a stream takes at once, as the shim's worker streams (their high-water mark).
const CHUNK = 64 * 1024;
// Ids of what is made here: from LOCAL on, above any the worker's counters reach, so an
// id says where it lives; below 2^30, a bit jco's glue takes for its own in the ids of
// the resources it holds (T_FLAG): an id with it set would come back without it.
const LOCAL = 2 ** 29;
const LOCAL_END = 2 ** 30;
let nextId = LOCAL;
const newId = () => {
  if (nextId >= LOCAL_END) throw new Error('wasi-io trap: too many file resources');
  return nextId++;
};
const isLocal = (id) => typeof id === 'number' && id >= LOCAL && id < nextId;

const files = new Map();    // descriptor id -> { fd, refs }
const streams = new Map();  // stream id -> { file (its descriptor id), pos (bigint), failed }
const polls = new Map();    // pollable id -> null (a file's: always ready) or a deadline (a clock's, hrtime ns)
const nap = new Int32Array(new SharedArrayBuffer(4)); // Atomics.wait on it: a sleep
const stdins = new Map();   // stdin's stream id given out here -> the worker's once handed over, else null

function kind(st) {
  if (st.isFile()) return 'regular-file';
  if (st.isSocket()) return 'socket';
  if (st.isSymbolicLink()) return 'symbolic-link';
  if (st.isFIFO()) return 'fifo';
  if (st.isDirectory()) return 'directory';
  if (st.isCharacterDevice()) return 'character-device';
  if (st.isBlockDevice()) return 'block-device';
  return 'unknown';
}

function file(id) {
  const f = files.get(id);
  if (!f) {
    const e = new Error(`Invalid filesystem descriptor resource: ${id}`);
    e.code = 'EBADF';
    throw e;
  }
  return f;
}

function release(id) {
  const f = file(id);
  if (--f.refs === 0) {
    files.delete(id);
    closeSync(f.fd);
  }
}

// A stream's failure as the shim's worker reports it (streamError there).
function failed(e) {
  return { tag: 'last-operation-failed', val: { code: e.code, message: e.message, stack: e.stack } };
}

// A stream that failed stays closed, as WASI has it (the worker's keep their error).
function stream(id) {
  const s = streams.get(id);
  if (!s || s.failed) throw { tag: 'closed' };
  return s;
}

function readAt(s, len) {
  const want = Math.min(Number(len), CHUNK * 16);
  const buf = new Uint8Array(want);
  let n;
  try {
    n = want ? readSync(file(s.file).fd, buf, 0, want, Number(s.pos)) : 0;
  } catch (e) {
    s.failed = true;
    throw failed(e);
  }
  if (n === 0 && want > 0) throw { tag: 'closed' };
  s.pos += BigInt(n);
  return buf.subarray(0, n);
}

function writeAt(s, bytes) {
  let done = 0;
  try {
    while (done < bytes.byteLength)
      done += writeSync(file(s.file).fd, bytes, done, bytes.byteLength - done, Number(s.pos) + done);
  } catch (e) {
    s.failed = true;
    throw failed(e);
  }
  s.pos += BigInt(done);
  return done;
}

function newStream(payload) {
  const f = file(payload.descriptorId);
  const id = newId();
  f.refs++;
  streams.set(id, { file: payload.descriptorId, pos: BigInt(payload.offset ?? 0), failed: false });
  return id;
}

function newPoll(deadline = null) {
  const id = newId();
  polls.set(id, deadline);
  return id;
}

const pollReady = (id) => {
  const d = polls.get(id);
  return d === null || hrtime.bigint() >= d;
};

const earliest = (deadlines) => deadlines.reduce((a, b) => (b < a ? b : a));

// Sleeps until the earliest of the deadlines (ns, hrtime's).
function sleepUntil(deadlines) {
  const until = earliest(deadlines);
  for (let left = until - hrtime.bigint(); left > 0n; left = until - hrtime.bigint())
    Atomics.wait(nap, 0, 0, Number(left) / 1e6);
}

// A descriptor's calls: what the shim's worker does with the same fs calls, synchronously.
function descriptorCall(call, id, payload) {
  switch (call) {
    case FILESYSTEM_DESCRIPTOR_OPEN: {
      const fd = openSync(payload.path, payload.flags);
      let type;
      try {
        type = kind(fstatSync(fd, { bigint: true }));
      } catch (e) {
        closeSync(fd);
        throw e;
      }
      const fid = newId();
      files.set(fid, { fd, refs: 1 });
      return { id: fid, type };
    }
    case FILESYSTEM_DESCRIPTOR_CLOSE: return void release(id);
    case FILESYSTEM_DESCRIPTOR_ADVISE: return void file(id); // advice only: nothing to do
    case FILESYSTEM_DESCRIPTOR_SYNC_DATA: return void fdatasyncSync(file(id).fd);
    case FILESYSTEM_DESCRIPTOR_SYNC: return void fsyncSync(file(id).fd);
    case FILESYSTEM_DESCRIPTOR_GET_TYPE: return kind(fstatSync(file(id).fd, { bigint: true }));
    case FILESYSTEM_DESCRIPTOR_SET_SIZE: return void ftruncateSync(file(id).fd, Number(payload));
    case FILESYSTEM_DESCRIPTOR_SET_TIMES: return void futimesSync(file(id).fd, payload.atime, payload.mtime);
    case FILESYSTEM_DESCRIPTOR_READ: {
      // a short read, as WASI allows, rather than a buffer of any length the app names
      const len = Math.min(payload.length, CHUNK * 16);
      const buf = new Uint8Array(len);
      const n = readSync(file(id).fd, buf, 0, len, payload.offset);
      return { bytes: buf.subarray(0, n), eof: n === 0 };
    }
    case FILESYSTEM_DESCRIPTOR_WRITE:
      return writeSync(file(id).fd, payload.buffer, 0, payload.buffer.byteLength, payload.offset);
    case FILESYSTEM_DESCRIPTOR_STAT: {
      const st = fstatSync(file(id).fd, { bigint: true });
      return { type: kind(st), nlink: st.nlink, size: st.size, atimeNs: st.atimeNs, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
    }
    case FILESYSTEM_DESCRIPTOR_METADATA_HASH: {
      const st = fstatSync(file(id).fd, { bigint: true });
      return { upper: st.mtimeNs, lower: st.ino };
    }
  }
  return undefined;
}

const DESCRIPTOR_CALLS = new Set([
  FILESYSTEM_DESCRIPTOR_OPEN, FILESYSTEM_DESCRIPTOR_CLOSE, FILESYSTEM_DESCRIPTOR_ADVISE, FILESYSTEM_DESCRIPTOR_SYNC_DATA,
  FILESYSTEM_DESCRIPTOR_GET_TYPE, FILESYSTEM_DESCRIPTOR_SET_SIZE, FILESYSTEM_DESCRIPTOR_SET_TIMES,
  FILESYSTEM_DESCRIPTOR_READ, FILESYSTEM_DESCRIPTOR_WRITE, FILESYSTEM_DESCRIPTOR_SYNC, FILESYSTEM_DESCRIPTOR_STAT,
  FILESYSTEM_DESCRIPTOR_METADATA_HASH,
]);

// A file's stream calls (the call's type is FILE). Reads and writes are at the stream's
// own position, as the worker's streams are (positional, so a descriptor's streams and
// its reads and writes do not move each other).
function fileStreamCall(call, id, payload, splice) {
  switch (call & CALL_MASK) {
    case INPUT_STREAM_CREATE:
    case OUTPUT_STREAM_CREATE: return newStream(payload);
    case INPUT_STREAM_READ:
    case INPUT_STREAM_BLOCKING_READ: return readAt(stream(id), payload);
    case INPUT_STREAM_SKIP:
    case INPUT_STREAM_BLOCKING_SKIP: return BigInt(readAt(stream(id), payload).byteLength);
    case INPUT_STREAM_SUBSCRIBE:
    case OUTPUT_STREAM_SUBSCRIBE: stream(id); return newPoll(null);
    case INPUT_STREAM_DISPOSE:
    case OUTPUT_STREAM_DISPOSE: {
      const s = streams.get(id);
      if (s) {
        streams.delete(id);
        release(s.file);
      }
      return undefined;
    }
    case OUTPUT_STREAM_CHECK_WRITE: stream(id); return BigInt(CHUNK);
    case OUTPUT_STREAM_WRITE:
    case OUTPUT_STREAM_BLOCKING_WRITE_AND_FLUSH: {
      const s = stream(id);
      if (payload.byteLength > CHUNK) throw new Error('wasi-io trap: Cannot write more than permitted writable length');
      const n = writeAt(s, payload);
      return (call & CALL_MASK) === OUTPUT_STREAM_WRITE ? undefined : BigInt(n);
    }
    case OUTPUT_STREAM_WRITE_ZEROES:
    case OUTPUT_STREAM_BLOCKING_WRITE_ZEROES_AND_FLUSH: {
      const s = stream(id);
      if (BigInt(payload) > BigInt(CHUNK)) throw new Error('wasi-io trap: Cannot write more than permitted writable length');
      const n = writeAt(s, new Uint8Array(Number(payload)));
      return (call & CALL_MASK) === OUTPUT_STREAM_WRITE_ZEROES ? undefined : BigInt(n);
    }
    case OUTPUT_STREAM_FLUSH:
    case OUTPUT_STREAM_BLOCKING_FLUSH: stream(id); return undefined;
    case OUTPUT_STREAM_SPLICE:
    case OUTPUT_STREAM_BLOCKING_SPLICE: return splice(call, id, payload);
  }
  throw new Error(`wasmpack: jco engine: file call ${(call & CALL_MASK) >>> 24} is not one wasmpack answers`);
}

// A blocking read of stdin (descriptor 0) here: its bytes, or null when it would not block
// as asked (a descriptor in non-blocking mode: the worker then takes stdin over).
function readStdin(len) {
  const buf = Buffer.allocUnsafe(Math.min(len, CHUNK));
  let n;
  try {
    n = buf.length ? readSync(0, buf, 0, buf.length, null) : 0;
  } catch (e) {
    if (e.code === 'EAGAIN' || e.code === 'EWOULDBLOCK') return null;
    throw failed(e);
  }
  if (n === 0 && buf.length > 0) throw { tag: 'closed' };
  return new Uint8Array(buf.buffer, buf.byteOffset, n);
}

export function createSyncFn(createWorker, debug, callback) {
  const opts = globalThis[Symbol.for('wasmpack.jco-io')] ?? {};
  let remote = null;
  const worker = (call, id, payload) => (remote ??= workerSyncFn(createWorker, debug, callback))(call, id, payload);
  if (opts.worker)
    return worker;
  if (opts.eager)
    remote = workerSyncFn(createWorker, debug, callback);

  // stdin's stream is made in the worker the first time a call needs the worker
  const stdinId = (id) => {
    if (!stdins.has(id)) return id;
    if (stdins.get(id) === null) {
      const real = worker(INPUT_STREAM_CREATE | STDIN, null, null);
      stdins.set(id, real);
    }
    return stdins.get(id);
  };
  // A splice with a file on either side: read from one, write to the other.
  const splice = (call, dest, payload) => {
    const blocking = (call & CALL_MASK) === OUTPUT_STREAM_BLOCKING_SPLICE;
    const destType = call & CALL_TYPE_MASK;
    const srcLocal = streams.has(payload.src);
    if (destType === FILE) stream(dest);
    let room = Number(payload.len);
    if (destType !== FILE && destType !== STDOUT && destType !== STDERR)
      room = Math.min(room, Number(worker(OUTPUT_STREAM_CHECK_WRITE | destType, dest, null)));
    let bytes;
    if (srcLocal) {
      bytes = readAt(stream(payload.src), Math.min(room, CHUNK));
    } else {
      // the worker reads any of its input streams by id alone (its read has no case by type)
      const src = stdinId(payload.src);
      bytes = worker((blocking ? INPUT_STREAM_BLOCKING_READ : INPUT_STREAM_READ) | (stdins.has(payload.src) ? STDIN : SOCKET_TCP),
        src, BigInt(Math.min(room, CHUNK)));
    }
    if (destType === FILE) writeAt(stream(dest), bytes);
    else if (destType === STDOUT || destType === STDERR) (destType === STDERR ? process.stderr : process.stdout).write(bytes);
    else worker((blocking ? OUTPUT_STREAM_BLOCKING_WRITE_AND_FLUSH : OUTPUT_STREAM_WRITE) | destType, dest, bytes);
    return BigInt(bytes.byteLength);
  };

  // A poll of a list holding pollables made here: the indices of those ready, waiting as
  // long as none is (until a clock's deadline; with the worker's in the list, the worker
  // waits on them and on a clock of its own for the earliest of ours).
  const pollList = (list) => {
    for (const p of list)
      if (isLocal(p) && !polls.has(p)) throw new Error(`wasi-io trap: poll on a pollable ${p} that does not exist`);
    const theirs = list.filter((p) => !isLocal(p));
    for (;;) {
      const ready = [];
      list.forEach((p, i) => (isLocal(p) ? pollReady(p) : worker(POLL_POLLABLE_READY, p, null)) && ready.push(i));
      if (ready.length) return new Uint32Array(ready);
      const deadlines = list.filter(isLocal).map((p) => polls.get(p));
      if (!theirs.length) {
        sleepUntil(deadlines);
        continue;
      }
      const left = earliest(deadlines) - hrtime.bigint();
      const clock = worker(CLOCKS_DURATION_SUBSCRIBE, null, left > 0n ? left : 0n);
      try {
        worker(POLL_POLL_LIST, null, [...theirs, clock]);
      } finally {
        worker(POLL_POLLABLE_DISPOSE, clock, null);
      }
    }
  };

  return function ioCall(call, id, payload) {
    const what = call & CALL_MASK;
    const type = call & CALL_TYPE_MASK;
    if (DESCRIPTOR_CALLS.has(call)) return descriptorCall(call, id, payload);
    if (type === FILE) return fileStreamCall(call, id, payload, splice);
    // a clock's pollables are made here too: a sleep or a poll's timeout needs no worker
    if (what === CLOCKS_DURATION_SUBSCRIBE) return newPoll(hrtime.bigint() + BigInt(payload));
    if (what === CLOCKS_INSTANT_SUBSCRIBE) return newPoll(BigInt(payload));
    if ((what === POLL_POLLABLE_READY || what === POLL_POLLABLE_BLOCK || what === POLL_POLLABLE_DISPOSE) && isLocal(id)) {
      if (!polls.has(id)) throw new Error(`wasi-io trap: Disposed a poll ${id} that does not exist`);
      if (what === POLL_POLLABLE_DISPOSE) return void polls.delete(id);
      if (what === POLL_POLLABLE_READY) return pollReady(id);
      if (polls.get(id) !== null) sleepUntil([polls.get(id)]);
      return undefined;
    }
    if (what === POLL_POLL_LIST && payload.some(isLocal)) return pollList(payload);
    if (type === STDIN && what === INPUT_STREAM_CREATE) {
      const placeholder = newId();
      stdins.set(placeholder, null);
      return placeholder;
    }
    if (type === STDIN && what === INPUT_STREAM_DISPOSE && stdins.get(id) === null) return void stdins.delete(id);
    if (type === STDIN && stdins.get(id) === null && (what === INPUT_STREAM_BLOCKING_READ || what === INPUT_STREAM_BLOCKING_SKIP)) {
      const got = readStdin(Number(payload));
      if (got !== null) return what === INPUT_STREAM_BLOCKING_READ ? got : BigInt(got.byteLength);
    }
    if ((what === OUTPUT_STREAM_SPLICE || what === OUTPUT_STREAM_BLOCKING_SPLICE) && streams.has(payload?.src))
      return splice(call, id, payload);
    if (what === OUTPUT_STREAM_SPLICE || what === OUTPUT_STREAM_BLOCKING_SPLICE)
      return worker(call, id, { ...payload, src: stdinId(payload.src) });
    return worker(call, stdins.has(id) ? stdinId(id) : id, payload);
  };
}
