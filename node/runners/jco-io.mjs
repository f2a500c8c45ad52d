// wasmpack's file I/O for preview2-shim, on the app's own thread. preview2-shim sends
// every I/O call (ioCall: a call number, an id, a payload) to a worker thread of its own,
// a second V8 isolate that takes as long to boot as the rest of a component's start. The
// bundle (jco-transpile.mjs) puts this module where the shim's worker-io.js imports
// synckit's createSyncFn: a file's calls (its descriptor, the streams on it, their
// pollables, which are always ready) are answered here with Node's synchronous fs calls,
// the same calls the shim's worker makes on the same paths (which the shim's
// filesystem.js resolves and confines, unchanged); every other call goes to the shim's
// worker, started on the first such call (or at once, when the runner asks: a component
// that imports sockets or HTTP). Stdin's blocking reads are answered here too (a blocking
// read of descriptor 0); its first call of another kind (a read that must not block, a
// poll) hands it to the worker for good, which reads on from there.
// globalThis[Symbol.for('wasmpack.jco-io')]: { eager: start the worker at once,
// worker: send every call there, as the shim alone would }.
import { createSyncFn as workerSyncFn } from '__SHIM__/dist/synckit/index.js';
import {
  CALL_MASK, CALL_TYPE_MASK, FILE, STDIN, STDOUT, STDERR,
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
} from '__SHIM__/dist/io/calls.js';
import {
  openSync, closeSync, fstatSync, readSync, writeSync, ftruncateSync, futimesSync, fsyncSync, fdatasyncSync,
} from 'node:fs';
import { Buffer } from 'node:buffer';
import process from 'node:process';

// What a stream takes at once, as the shim's worker streams (their high-water mark).
const CHUNK = 64 * 1024;
// Ids of what is made here: above any the worker's counters reach, so a pollable or a
// stream id says where it lives.
const LOCAL = 2 ** 30;
let nextId = LOCAL;

const files = new Map();    // descriptor id -> { fd, refs }
const streams = new Map();  // stream id -> { file, pos (bigint), output }
const polls = new Set();    // pollable ids: a file's streams are always ready
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

function stream(id) {
  const s = streams.get(id);
  if (!s) throw { tag: 'closed' };
  return s;
}

function readAt(s, len) {
  const want = Math.min(Number(len), CHUNK * 16);
  const buf = new Uint8Array(want);
  let n;
  try {
    n = want ? readSync(file(s.file).fd, buf, 0, want, Number(s.pos)) : 0;
  } catch (e) {
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
    throw failed(e);
  }
  s.pos += BigInt(done);
  return done;
}

function newStream(payload, output) {
  const f = file(payload.descriptorId);
  const id = nextId++;
  f.refs++;
  streams.set(id, { file: payload.descriptorId, pos: BigInt(payload.offset ?? 0), output });
  return id;
}

function newPoll() {
  const id = nextId++;
  polls.add(id);
  return id;
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
      const fid = nextId++;
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
      const buf = new Uint8Array(payload.length);
      const n = readSync(file(id).fd, buf, 0, payload.length, payload.offset);
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
    case INPUT_STREAM_CREATE: return newStream(payload, false);
    case OUTPUT_STREAM_CREATE: return newStream(payload, true);
    case INPUT_STREAM_READ:
    case INPUT_STREAM_BLOCKING_READ: return readAt(stream(id), payload);
    case INPUT_STREAM_SKIP:
    case INPUT_STREAM_BLOCKING_SKIP: return BigInt(readAt(stream(id), payload).byteLength);
    case INPUT_STREAM_SUBSCRIBE:
    case OUTPUT_STREAM_SUBSCRIBE: stream(id); return newPoll();
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
      const n = writeAt(stream(id), new Uint8Array(Number(payload)));
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
    if (e.code === 'EOF') throw { tag: 'closed' };
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
  const streamTypes = new Map(); // worker stream ids whose type is known: stdin's

  // stdin's stream is made in the worker the first time a call needs the worker
  const stdinId = (id) => {
    if (!stdins.has(id)) return id;
    if (stdins.get(id) === null) {
      const real = worker(INPUT_STREAM_CREATE | STDIN, null, null);
      stdins.set(id, real);
      streamTypes.set(real, STDIN);
    }
    return stdins.get(id);
  };
  // A splice with a file on either side: read from one, write to the other.
  const splice = (call, dest, payload) => {
    const blocking = (call & CALL_MASK) === OUTPUT_STREAM_BLOCKING_SPLICE;
    const destType = call & CALL_TYPE_MASK;
    const srcLocal = streams.has(payload.src);
    let room = Number(payload.len);
    if (destType !== FILE && destType !== STDOUT && destType !== STDERR)
      room = Math.min(room, Number(worker(OUTPUT_STREAM_CHECK_WRITE | destType, dest, null)));
    let bytes;
    if (srcLocal) {
      bytes = readAt(stream(payload.src), Math.min(room, CHUNK));
    } else {
      const src = stdinId(payload.src);
      const srcType = streamTypes.get(src);
      if (srcType === undefined)
        throw new Error('wasi-io trap: a splice between a file and this stream is not supported by wasmpack');
      bytes = worker((blocking ? INPUT_STREAM_BLOCKING_READ : INPUT_STREAM_READ) | srcType, src, BigInt(Math.min(room, CHUNK)));
    }
    if (destType === FILE) writeAt(stream(dest), bytes);
    else if (destType === STDOUT || destType === STDERR) (destType === STDERR ? process.stderr : process.stdout).write(bytes);
    else worker((blocking ? OUTPUT_STREAM_BLOCKING_WRITE_AND_FLUSH : OUTPUT_STREAM_WRITE) | destType, dest, bytes);
    return BigInt(bytes.byteLength);
  };

  return function ioCall(call, id, payload) {
    const what = call & CALL_MASK;
    const type = call & CALL_TYPE_MASK;
    if (DESCRIPTOR_CALLS.has(call)) return descriptorCall(call, id, payload);
    if (type === FILE) return fileStreamCall(call, id, payload, splice);
    if (what === POLL_POLLABLE_READY && polls.has(id)) return true;
    if (what === POLL_POLLABLE_BLOCK && polls.has(id)) return undefined;
    if (what === POLL_POLLABLE_DISPOSE && polls.has(id)) return void polls.delete(id);
    if (what === POLL_POLL_LIST) {
      const ready = [];
      payload.forEach((p, i) => polls.has(p) && ready.push(i));
      if (ready.length) return new Uint32Array(ready);
      return worker(call, id, payload);
    }
    if (type === STDIN && what === INPUT_STREAM_CREATE) {
      const placeholder = nextId++;
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
