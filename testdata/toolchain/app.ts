// The toolchain app (AssemblyScript, asc and its WASI shim), as the C and Rust ones do the
// same: what a real app does with WASI, one line each, for tests/integration/toolchains.sh.
// Files through WASI's calls themselves (the shim has no file API). The last argument,
// when a number, is the exit code.
import {
  fd_close, fd_prestat_dir_name, fd_prestat_get, fd_read, fd_readdir, fd_write, path_open, path_unlink_file, prestat,
} from "@assemblyscript/wasi-shim/assembly/bindings/wasi_snapshot_preview1";

// fd_read, fd_seek, fd_tell, fd_filestat_get to read; and fd_write to write (asked for
// only then: an engine opens a file for writing when it is, which a read-only folder refuses)
const READ: u64 = (1 << 1) | (1 << 2) | (1 << 5) | (1 << 21);
const WRITE: u64 = READ | (1 << 6);
const scratch = memory.data(64);

// The folder a path is in, as wasi-libc finds it: a preopen named so ("fs-tests.dir"), or
// the same name made absolute ("/fs-tests.dir", as a container's mounts are named).
function folder(name: string): i32 {
  const fd = preopen(name);
  return fd >= 0 ? fd : preopen("/" + name);
}

// The preopened folder named name (fd 3 on), or -1.
function preopen(name: string): i32 {
  for (let fd: u32 = 3; fd < 64; fd++) {
    if (fd_prestat_get(fd, changetype<prestat>(scratch)) != 0) break;
    const len = load<u32>(scratch, 4);
    const buf = new ArrayBuffer(<i32>len);
    if (fd_prestat_dir_name(fd, changetype<usize>(buf), len) != 0) continue;
    if (String.UTF8.decode(buf) == name) return <i32>fd;
  }
  return -1;
}

function open(dir: i32, path: string, oflags: u16, rights: u64): i32 {
  const p = String.UTF8.encode(path);
  if (dir < 0 || path_open(<u32>dir, 0, changetype<usize>(p), p.byteLength, oflags, rights, rights, 0, scratch) != 0) return -1;
  return <i32>load<u32>(scratch);
}

function readAll(fd: i32): string {
  const buf = new ArrayBuffer(4096);
  store<u32>(scratch, changetype<usize>(buf), 8);
  store<u32>(scratch, 4096, 12);
  if (fd_read(<u32>fd, scratch + 8, 1, scratch + 16) != 0) return "";
  return String.UTF8.decode(buf.slice(0, <i32>load<u32>(scratch, 16)));
}

function writeAll(fd: i32, s: string): bool {
  const b = String.UTF8.encode(s);
  store<u32>(scratch, changetype<usize>(b), 8);
  store<u32>(scratch, b.byteLength, 12);
  return fd_write(<u32>fd, scratch + 8, 1, scratch + 16) == 0;
}

// The preopened folder's own entries (its descriptor reads them; no need to open it again).
function listing(fd: i32): string {
  const buf = new ArrayBuffer(4096);
  const names = new Array<string>();
  if (fd_readdir(<u32>fd, changetype<usize>(buf), 4096, 0, scratch) == 0) {
    const used = <i32>load<u32>(scratch);
    let at = 0;
    while (at + 24 <= used) {
      const nlen = <i32>load<u32>(changetype<usize>(buf) + at, 16);
      const name = String.UTF8.decode(buf.slice(at + 24, at + 24 + nlen));
      if (!name.startsWith(".")) names.push(name);
      at += 24 + nlen;
    }
  }
  names.sort();
  return names.join(",");
}

const args = process.argv;
console.log("argv0=" + args[0]);
console.log("args=" + args.slice(1).join(","));
console.log("env=" + (process.env.has("TOOLCHAIN_ENV") ? process.env.get("TOOLCHAIN_ENV") : "unset"));

let stat = "none";
const root = preopen("/");
const sfd = open(root, "static/greeting.txt", 0, READ);
if (sfd >= 0) {
  stat = readAll(sfd).split("\n")[0];
  fd_close(<u32>sfd);
}
console.log("static=" + stat);

const dir = folder("fs-tests.dir");
console.log("list=" + (dir < 0 ? "none" : listing(dir)));

let temp = "refused";
const wfd = open(dir, "tmp-as", 1 | 8 /* CREAT | TRUNC */, WRITE);
if (wfd >= 0 && writeAll(wfd, "temp")) {
  fd_close(<u32>wfd);
  const rfd = open(dir, "tmp-as", 0, READ);
  if (rfd >= 0 && readAll(rfd) == "temp") {
    fd_close(<u32>rfd);
    const p = String.UTF8.encode("tmp-as");
    temp = path_unlink_file(<u32>dir, changetype<usize>(p), p.byteLength) == 0 ? "ok" : "kept";
  }
}
console.log("temp=" + temp);
console.log("clock=" + (Date.now() > 1600000000000 ? "ok" : "wrong"));

const rnd = new Uint8Array(16);
crypto.getRandomValues(rnd);
let any: u8 = 0;
for (let i = 0; i < rnd.length; i++) any |= rnd[i];
console.log("random=" + (any != 0 ? "ok" : "none"));

const last = args.length > 1 ? args[args.length - 1] : "";
process.exit(last.length > 0 && last.charCodeAt(0) >= 48 && last.charCodeAt(0) <= 57 ? I32.parseInt(last) : 0);
