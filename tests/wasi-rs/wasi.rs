// A binding of WASI preview1 (wasi_snapshot_preview1) for the Rust cases of WASI's
// testsuite, written from WASI's witx specification: the names, types and signatures its
// cases use (the shape of the `wasi` crate 0.11 they are written against), which Debian 12
// does not package. Built by tests/integration/wasi_testsuite.sh with Debian's rustc.
#![allow(non_camel_case_types, clippy::missing_safety_doc, dead_code)]
use core::fmt;

pub type Fd = u32;
pub type Size = usize;
pub type Filesize = u64;
pub type Filedelta = i64;
pub type Timestamp = u64;
pub type Rights = u64;
pub type Dircookie = u64;
pub type Inode = u64;
pub type Device = u64;
pub type Linkcount = u64;
pub type Userdata = u64;
pub type Fdflags = u16;
pub type Oflags = u16;
pub type Lookupflags = u32;
pub type Fstflags = u16;
pub type Subclockflags = u16;
pub type Eventrwflags = u16;

macro_rules! newtype {
    ($name:ident, $repr:ty, $( $c:ident = $v:expr => $n:expr ),* $(,)?) => {
        #[repr(transparent)]
        #[derive(Copy, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name($repr);
        impl $name {
            pub const fn raw(&self) -> $repr { self.0 }
            pub fn name(&self) -> &'static str {
                match self.0 { $( $v => $n, )* _ => "unknown" }
            }
        }
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "{} ({})", self.name(), self.0)
            }
        }
        $( pub const $c: $name = $name($v); )*
    };
}

newtype!(Errno, u16,
    ERRNO_SUCCESS = 0 => "SUCCESS", ERRNO_2BIG = 1 => "2BIG", ERRNO_ACCES = 2 => "ACCES",
    ERRNO_ADDRINUSE = 3 => "ADDRINUSE", ERRNO_ADDRNOTAVAIL = 4 => "ADDRNOTAVAIL",
    ERRNO_AFNOSUPPORT = 5 => "AFNOSUPPORT", ERRNO_AGAIN = 6 => "AGAIN", ERRNO_ALREADY = 7 => "ALREADY",
    ERRNO_BADF = 8 => "BADF", ERRNO_BADMSG = 9 => "BADMSG", ERRNO_BUSY = 10 => "BUSY",
    ERRNO_CANCELED = 11 => "CANCELED", ERRNO_CHILD = 12 => "CHILD", ERRNO_CONNABORTED = 13 => "CONNABORTED",
    ERRNO_CONNREFUSED = 14 => "CONNREFUSED", ERRNO_CONNRESET = 15 => "CONNRESET", ERRNO_DEADLK = 16 => "DEADLK",
    ERRNO_DESTADDRREQ = 17 => "DESTADDRREQ", ERRNO_DOM = 18 => "DOM", ERRNO_DQUOT = 19 => "DQUOT",
    ERRNO_EXIST = 20 => "EXIST", ERRNO_FAULT = 21 => "FAULT", ERRNO_FBIG = 22 => "FBIG",
    ERRNO_HOSTUNREACH = 23 => "HOSTUNREACH", ERRNO_IDRM = 24 => "IDRM", ERRNO_ILSEQ = 25 => "ILSEQ",
    ERRNO_INPROGRESS = 26 => "INPROGRESS", ERRNO_INTR = 27 => "INTR", ERRNO_INVAL = 28 => "INVAL",
    ERRNO_IO = 29 => "IO", ERRNO_ISCONN = 30 => "ISCONN", ERRNO_ISDIR = 31 => "ISDIR", ERRNO_LOOP = 32 => "LOOP",
    ERRNO_MFILE = 33 => "MFILE", ERRNO_MLINK = 34 => "MLINK", ERRNO_MSGSIZE = 35 => "MSGSIZE",
    ERRNO_MULTIHOP = 36 => "MULTIHOP", ERRNO_NAMETOOLONG = 37 => "NAMETOOLONG", ERRNO_NETDOWN = 38 => "NETDOWN",
    ERRNO_NETRESET = 39 => "NETRESET", ERRNO_NETUNREACH = 40 => "NETUNREACH", ERRNO_NFILE = 41 => "NFILE",
    ERRNO_NOBUFS = 42 => "NOBUFS", ERRNO_NODEV = 43 => "NODEV", ERRNO_NOENT = 44 => "NOENT",
    ERRNO_NOEXEC = 45 => "NOEXEC", ERRNO_NOLCK = 46 => "NOLCK", ERRNO_NOLINK = 47 => "NOLINK",
    ERRNO_NOMEM = 48 => "NOMEM", ERRNO_NOMSG = 49 => "NOMSG", ERRNO_NOPROTOOPT = 50 => "NOPROTOOPT",
    ERRNO_NOSPC = 51 => "NOSPC", ERRNO_NOSYS = 52 => "NOSYS", ERRNO_NOTCONN = 53 => "NOTCONN",
    ERRNO_NOTDIR = 54 => "NOTDIR", ERRNO_NOTEMPTY = 55 => "NOTEMPTY", ERRNO_NOTRECOVERABLE = 56 => "NOTRECOVERABLE",
    ERRNO_NOTSOCK = 57 => "NOTSOCK", ERRNO_NOTSUP = 58 => "NOTSUP", ERRNO_NOTTY = 59 => "NOTTY",
    ERRNO_NXIO = 60 => "NXIO", ERRNO_OVERFLOW = 61 => "OVERFLOW", ERRNO_OWNERDEAD = 62 => "OWNERDEAD",
    ERRNO_PERM = 63 => "PERM", ERRNO_PIPE = 64 => "PIPE", ERRNO_PROTO = 65 => "PROTO",
    ERRNO_PROTONOSUPPORT = 66 => "PROTONOSUPPORT", ERRNO_PROTOTYPE = 67 => "PROTOTYPE", ERRNO_RANGE = 68 => "RANGE",
    ERRNO_ROFS = 69 => "ROFS", ERRNO_SPIPE = 70 => "SPIPE", ERRNO_SRCH = 71 => "SRCH", ERRNO_STALE = 72 => "STALE",
    ERRNO_TIMEDOUT = 73 => "TIMEDOUT", ERRNO_TXTBSY = 74 => "TXTBSY", ERRNO_XDEV = 75 => "XDEV",
    ERRNO_NOTCAPABLE = 76 => "NOTCAPABLE",
);
impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result { write!(f, "{:?}", self) }
}
impl std::error::Error for Errno {}
pub const EINVAL: Errno = ERRNO_INVAL;

newtype!(Clockid, u32, CLOCKID_REALTIME = 0 => "REALTIME", CLOCKID_MONOTONIC = 1 => "MONOTONIC",
    CLOCKID_PROCESS_CPUTIME_ID = 2 => "PROCESS_CPUTIME_ID", CLOCKID_THREAD_CPUTIME_ID = 3 => "THREAD_CPUTIME_ID");
newtype!(Whence, u8, WHENCE_SET = 0 => "SET", WHENCE_CUR = 1 => "CUR", WHENCE_END = 2 => "END");
newtype!(Filetype, u8, FILETYPE_UNKNOWN = 0 => "UNKNOWN", FILETYPE_BLOCK_DEVICE = 1 => "BLOCK_DEVICE",
    FILETYPE_CHARACTER_DEVICE = 2 => "CHARACTER_DEVICE", FILETYPE_DIRECTORY = 3 => "DIRECTORY",
    FILETYPE_REGULAR_FILE = 4 => "REGULAR_FILE", FILETYPE_SOCKET_DGRAM = 5 => "SOCKET_DGRAM",
    FILETYPE_SOCKET_STREAM = 6 => "SOCKET_STREAM", FILETYPE_SYMBOLIC_LINK = 7 => "SYMBOLIC_LINK");
newtype!(Advice, u8, ADVICE_NORMAL = 0 => "NORMAL", ADVICE_SEQUENTIAL = 1 => "SEQUENTIAL", ADVICE_RANDOM = 2 => "RANDOM",
    ADVICE_WILLNEED = 3 => "WILLNEED", ADVICE_DONTNEED = 4 => "DONTNEED", ADVICE_NOREUSE = 5 => "NOREUSE");
newtype!(Eventtype, u8, EVENTTYPE_CLOCK = 0 => "CLOCK", EVENTTYPE_FD_READ = 1 => "FD_READ", EVENTTYPE_FD_WRITE = 2 => "FD_WRITE");
newtype!(Preopentype, u8, PREOPENTYPE_DIR = 0 => "DIR");

pub const FDFLAGS_APPEND: Fdflags = 1;
pub const FDFLAGS_DSYNC: Fdflags = 2;
pub const FDFLAGS_NONBLOCK: Fdflags = 4;
pub const FDFLAGS_RSYNC: Fdflags = 8;
pub const FDFLAGS_SYNC: Fdflags = 16;
pub const OFLAGS_CREAT: Oflags = 1;
pub const OFLAGS_DIRECTORY: Oflags = 2;
pub const OFLAGS_EXCL: Oflags = 4;
pub const OFLAGS_TRUNC: Oflags = 8;
pub const LOOKUPFLAGS_SYMLINK_FOLLOW: Lookupflags = 1;
pub const FSTFLAGS_ATIM: Fstflags = 1;
pub const FSTFLAGS_ATIM_NOW: Fstflags = 2;
pub const FSTFLAGS_MTIM: Fstflags = 4;
pub const FSTFLAGS_MTIM_NOW: Fstflags = 8;
pub const FILESTAT_SET_MTIM: Fstflags = FSTFLAGS_MTIM;
pub const FILESTAT_SET_MTIM_NOW: Fstflags = FSTFLAGS_MTIM_NOW;
pub const SUBCLOCKFLAGS_SUBSCRIPTION_CLOCK_ABSTIME: Subclockflags = 1;
pub const EVENTRWFLAGS_FD_READWRITE_HANGUP: Eventrwflags = 1;

pub const RIGHTS_FD_DATASYNC: Rights = 1 << 0;
pub const RIGHTS_FD_READ: Rights = 1 << 1;
pub const RIGHTS_FD_SEEK: Rights = 1 << 2;
pub const RIGHTS_FD_FDSTAT_SET_FLAGS: Rights = 1 << 3;
pub const RIGHTS_FD_SYNC: Rights = 1 << 4;
pub const RIGHTS_FD_TELL: Rights = 1 << 5;
pub const RIGHTS_FD_WRITE: Rights = 1 << 6;
pub const RIGHTS_FD_ADVISE: Rights = 1 << 7;
pub const RIGHTS_FD_ALLOCATE: Rights = 1 << 8;
pub const RIGHTS_PATH_CREATE_DIRECTORY: Rights = 1 << 9;
pub const RIGHTS_PATH_CREATE_FILE: Rights = 1 << 10;
pub const RIGHTS_PATH_LINK_SOURCE: Rights = 1 << 11;
pub const RIGHTS_PATH_LINK_TARGET: Rights = 1 << 12;
pub const RIGHTS_PATH_OPEN: Rights = 1 << 13;
pub const RIGHTS_FD_READDIR: Rights = 1 << 14;
pub const RIGHTS_PATH_READLINK: Rights = 1 << 15;
pub const RIGHTS_PATH_RENAME_SOURCE: Rights = 1 << 16;
pub const RIGHTS_PATH_RENAME_TARGET: Rights = 1 << 17;
pub const RIGHTS_PATH_FILESTAT_GET: Rights = 1 << 18;
pub const RIGHTS_PATH_FILESTAT_SET_SIZE: Rights = 1 << 19;
pub const RIGHTS_PATH_FILESTAT_SET_TIMES: Rights = 1 << 20;
pub const RIGHTS_FD_FILESTAT_GET: Rights = 1 << 21;
pub const RIGHTS_FD_FILESTAT_SET_SIZE: Rights = 1 << 22;
pub const RIGHTS_FD_FILESTAT_SET_TIMES: Rights = 1 << 23;
pub const RIGHTS_PATH_SYMLINK: Rights = 1 << 24;
pub const RIGHTS_PATH_REMOVE_DIRECTORY: Rights = 1 << 25;
pub const RIGHTS_PATH_UNLINK_FILE: Rights = 1 << 26;
pub const RIGHTS_POLL_FD_READWRITE: Rights = 1 << 27;
pub const RIGHTS_SOCK_SHUTDOWN: Rights = 1 << 28;

#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct Iovec { pub buf: *mut u8, pub buf_len: Size }
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct Ciovec { pub buf: *const u8, pub buf_len: Size }
pub type IovecArray<'a> = &'a [Iovec];
pub type CiovecArray<'a> = &'a [Ciovec];
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct Dirent { pub d_next: Dircookie, pub d_ino: Inode, pub d_namlen: u32, pub d_type: Filetype }
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct Fdstat { pub fs_filetype: Filetype, pub fs_flags: Fdflags, pub fs_rights_base: Rights, pub fs_rights_inheriting: Rights }
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct Filestat {
    pub dev: Device, pub ino: Inode, pub filetype: Filetype, pub nlink: Linkcount, pub size: Filesize,
    pub atim: Timestamp, pub mtim: Timestamp, pub ctim: Timestamp,
}
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct PrestatDir { pub pr_name_len: Size }
#[repr(C)]
#[derive(Copy, Clone)]
pub union PrestatU { pub dir: PrestatDir }
#[repr(C)]
#[derive(Copy, Clone)]
pub struct Prestat { pub tag: u8, pub u: PrestatU }
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct SubscriptionClock { pub id: Clockid, pub timeout: Timestamp, pub precision: Timestamp, pub flags: Subclockflags }
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct SubscriptionFdReadwrite { pub file_descriptor: Fd }
#[repr(C)]
#[derive(Copy, Clone)]
pub union SubscriptionUU { pub clock: SubscriptionClock, pub fd_read: SubscriptionFdReadwrite, pub fd_write: SubscriptionFdReadwrite }
#[repr(C)]
#[derive(Copy, Clone)]
pub struct SubscriptionU { pub tag: u8, pub u: SubscriptionUU }
#[repr(C)]
#[derive(Copy, Clone)]
pub struct Subscription { pub userdata: Userdata, pub u: SubscriptionU }
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct EventFdReadwrite { pub nbytes: Filesize, pub flags: Eventrwflags }
#[repr(C)]
#[derive(Copy, Clone, Debug)]
pub struct Event { pub userdata: Userdata, pub error: Errno, pub type_: Eventtype, pub fd_readwrite: EventFdReadwrite }

mod raw {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    extern "C" {
        pub fn clock_time_get(id: i32, precision: i64, out: i32) -> i32;
        pub fn fd_advise(fd: i32, offset: i64, len: i64, advice: i32) -> i32;
        pub fn fd_allocate(fd: i32, offset: i64, len: i64) -> i32;
        pub fn fd_close(fd: i32) -> i32;
        pub fn fd_fdstat_get(fd: i32, out: i32) -> i32;
        pub fn fd_fdstat_set_flags(fd: i32, flags: i32) -> i32;
        pub fn fd_fdstat_set_rights(fd: i32, base: i64, inheriting: i64) -> i32;
        pub fn fd_filestat_get(fd: i32, out: i32) -> i32;
        pub fn fd_filestat_set_size(fd: i32, size: i64) -> i32;
        pub fn fd_filestat_set_times(fd: i32, atim: i64, mtim: i64, flags: i32) -> i32;
        pub fn fd_pread(fd: i32, iovs: i32, iovs_len: i32, offset: i64, out: i32) -> i32;
        pub fn fd_prestat_get(fd: i32, out: i32) -> i32;
        pub fn fd_prestat_dir_name(fd: i32, path: i32, path_len: i32) -> i32;
        pub fn fd_pwrite(fd: i32, iovs: i32, iovs_len: i32, offset: i64, out: i32) -> i32;
        pub fn fd_read(fd: i32, iovs: i32, iovs_len: i32, out: i32) -> i32;
        pub fn fd_readdir(fd: i32, buf: i32, buf_len: i32, cookie: i64, out: i32) -> i32;
        pub fn fd_renumber(fd: i32, to: i32) -> i32;
        pub fn fd_seek(fd: i32, offset: i64, whence: i32, out: i32) -> i32;
        pub fn fd_tell(fd: i32, out: i32) -> i32;
        pub fn fd_write(fd: i32, iovs: i32, iovs_len: i32, out: i32) -> i32;
        pub fn path_create_directory(fd: i32, path: i32, path_len: i32) -> i32;
        pub fn path_filestat_get(fd: i32, flags: i32, path: i32, path_len: i32, out: i32) -> i32;
        pub fn path_filestat_set_times(fd: i32, flags: i32, path: i32, path_len: i32, atim: i64, mtim: i64, fst: i32) -> i32;
        pub fn path_link(old_fd: i32, old_flags: i32, old_path: i32, old_len: i32, new_fd: i32, new_path: i32, new_len: i32) -> i32;
        pub fn path_open(fd: i32, dirflags: i32, path: i32, path_len: i32, oflags: i32, base: i64, inheriting: i64, fdflags: i32, out: i32) -> i32;
        pub fn path_readlink(fd: i32, path: i32, path_len: i32, buf: i32, buf_len: i32, out: i32) -> i32;
        pub fn path_remove_directory(fd: i32, path: i32, path_len: i32) -> i32;
        pub fn path_rename(fd: i32, old_path: i32, old_len: i32, new_fd: i32, new_path: i32, new_len: i32) -> i32;
        pub fn path_symlink(old_path: i32, old_len: i32, fd: i32, new_path: i32, new_len: i32) -> i32;
        pub fn path_unlink_file(fd: i32, path: i32, path_len: i32) -> i32;
        pub fn poll_oneoff(subs: i32, events: i32, nsubs: i32, out: i32) -> i32;
        pub fn random_get(buf: i32, buf_len: i32) -> i32;
        pub fn sched_yield() -> i32;
    }
}

fn ok(rc: i32) -> Result<(), Errno> { if rc == 0 { Ok(()) } else { Err(Errno(rc as u16)) } }
fn p<T>(x: *const T) -> i32 { x as usize as i32 }
fn pm<T>(x: *mut T) -> i32 { x as usize as i32 }
fn s(x: &str) -> (i32, i32) { (x.as_ptr() as usize as i32, x.len() as i32) }

pub unsafe fn clock_time_get(id: Clockid, precision: Timestamp) -> Result<Timestamp, Errno> {
    let mut out = 0u64; ok(raw::clock_time_get(id.0 as i32, precision as i64, pm(&mut out))).map(|_| out)
}
pub unsafe fn fd_advise(fd: Fd, offset: Filesize, len: Filesize, advice: Advice) -> Result<(), Errno> {
    ok(raw::fd_advise(fd as i32, offset as i64, len as i64, advice.0 as i32))
}
pub unsafe fn fd_allocate(fd: Fd, offset: Filesize, len: Filesize) -> Result<(), Errno> {
    ok(raw::fd_allocate(fd as i32, offset as i64, len as i64))
}
pub unsafe fn fd_close(fd: Fd) -> Result<(), Errno> { ok(raw::fd_close(fd as i32)) }
pub unsafe fn fd_fdstat_get(fd: Fd) -> Result<Fdstat, Errno> {
    let mut out = core::mem::MaybeUninit::<Fdstat>::zeroed();
    ok(raw::fd_fdstat_get(fd as i32, pm(out.as_mut_ptr()))).map(|_| out.assume_init())
}
pub unsafe fn fd_fdstat_set_flags(fd: Fd, flags: Fdflags) -> Result<(), Errno> { ok(raw::fd_fdstat_set_flags(fd as i32, flags as i32)) }
pub unsafe fn fd_fdstat_set_rights(fd: Fd, base: Rights, inheriting: Rights) -> Result<(), Errno> {
    ok(raw::fd_fdstat_set_rights(fd as i32, base as i64, inheriting as i64))
}
pub unsafe fn fd_filestat_get(fd: Fd) -> Result<Filestat, Errno> {
    let mut out = core::mem::MaybeUninit::<Filestat>::zeroed();
    ok(raw::fd_filestat_get(fd as i32, pm(out.as_mut_ptr()))).map(|_| out.assume_init())
}
pub unsafe fn fd_filestat_set_size(fd: Fd, size: Filesize) -> Result<(), Errno> { ok(raw::fd_filestat_set_size(fd as i32, size as i64)) }
pub unsafe fn fd_filestat_set_times(fd: Fd, atim: Timestamp, mtim: Timestamp, flags: Fstflags) -> Result<(), Errno> {
    ok(raw::fd_filestat_set_times(fd as i32, atim as i64, mtim as i64, flags as i32))
}
pub unsafe fn fd_pread(fd: Fd, iovs: IovecArray<'_>, offset: Filesize) -> Result<Size, Errno> {
    let mut out = 0usize; ok(raw::fd_pread(fd as i32, p(iovs.as_ptr()), iovs.len() as i32, offset as i64, pm(&mut out))).map(|_| out)
}
pub unsafe fn fd_prestat_get(fd: Fd) -> Result<Prestat, Errno> {
    let mut out = core::mem::MaybeUninit::<Prestat>::zeroed();
    ok(raw::fd_prestat_get(fd as i32, pm(out.as_mut_ptr()))).map(|_| out.assume_init())
}
pub unsafe fn fd_prestat_dir_name(fd: Fd, path: *mut u8, path_len: Size) -> Result<(), Errno> {
    ok(raw::fd_prestat_dir_name(fd as i32, pm(path), path_len as i32))
}
pub unsafe fn fd_pwrite(fd: Fd, iovs: CiovecArray<'_>, offset: Filesize) -> Result<Size, Errno> {
    let mut out = 0usize; ok(raw::fd_pwrite(fd as i32, p(iovs.as_ptr()), iovs.len() as i32, offset as i64, pm(&mut out))).map(|_| out)
}
pub unsafe fn fd_read(fd: Fd, iovs: IovecArray<'_>) -> Result<Size, Errno> {
    let mut out = 0usize; ok(raw::fd_read(fd as i32, p(iovs.as_ptr()), iovs.len() as i32, pm(&mut out))).map(|_| out)
}
pub unsafe fn fd_readdir(fd: Fd, buf: *mut u8, buf_len: Size, cookie: Dircookie) -> Result<Size, Errno> {
    let mut out = 0usize; ok(raw::fd_readdir(fd as i32, pm(buf), buf_len as i32, cookie as i64, pm(&mut out))).map(|_| out)
}
pub unsafe fn fd_renumber(fd: Fd, to: Fd) -> Result<(), Errno> { ok(raw::fd_renumber(fd as i32, to as i32)) }
pub unsafe fn fd_seek(fd: Fd, offset: Filedelta, whence: Whence) -> Result<Filesize, Errno> {
    let mut out = 0u64; ok(raw::fd_seek(fd as i32, offset, whence.0 as i32, pm(&mut out))).map(|_| out)
}
pub unsafe fn fd_tell(fd: Fd) -> Result<Filesize, Errno> { let mut out = 0u64; ok(raw::fd_tell(fd as i32, pm(&mut out))).map(|_| out) }
pub unsafe fn fd_write(fd: Fd, iovs: CiovecArray<'_>) -> Result<Size, Errno> {
    let mut out = 0usize; ok(raw::fd_write(fd as i32, p(iovs.as_ptr()), iovs.len() as i32, pm(&mut out))).map(|_| out)
}
pub unsafe fn path_create_directory(fd: Fd, path: &str) -> Result<(), Errno> {
    let (a, l) = s(path); ok(raw::path_create_directory(fd as i32, a, l))
}
pub unsafe fn path_filestat_get(fd: Fd, flags: Lookupflags, path: &str) -> Result<Filestat, Errno> {
    let (a, l) = s(path);
    let mut out = core::mem::MaybeUninit::<Filestat>::zeroed();
    ok(raw::path_filestat_get(fd as i32, flags as i32, a, l, pm(out.as_mut_ptr()))).map(|_| out.assume_init())
}
pub unsafe fn path_filestat_set_times(fd: Fd, flags: Lookupflags, path: &str, atim: Timestamp, mtim: Timestamp, fst: Fstflags) -> Result<(), Errno> {
    let (a, l) = s(path); ok(raw::path_filestat_set_times(fd as i32, flags as i32, a, l, atim as i64, mtim as i64, fst as i32))
}
pub unsafe fn path_link(old_fd: Fd, old_flags: Lookupflags, old_path: &str, new_fd: Fd, new_path: &str) -> Result<(), Errno> {
    let (a, l) = s(old_path); let (b, m) = s(new_path);
    ok(raw::path_link(old_fd as i32, old_flags as i32, a, l, new_fd as i32, b, m))
}
pub unsafe fn path_open(fd: Fd, dirflags: Lookupflags, path: &str, oflags: Oflags, base: Rights, inheriting: Rights, fdflags: Fdflags) -> Result<Fd, Errno> {
    let (a, l) = s(path);
    let mut out = 0u32;
    ok(raw::path_open(fd as i32, dirflags as i32, a, l, oflags as i32, base as i64, inheriting as i64, fdflags as i32, pm(&mut out))).map(|_| out)
}
pub unsafe fn path_readlink(fd: Fd, path: &str, buf: *mut u8, buf_len: Size) -> Result<Size, Errno> {
    let (a, l) = s(path);
    let mut out = 0usize; ok(raw::path_readlink(fd as i32, a, l, pm(buf), buf_len as i32, pm(&mut out))).map(|_| out)
}
pub unsafe fn path_remove_directory(fd: Fd, path: &str) -> Result<(), Errno> { let (a, l) = s(path); ok(raw::path_remove_directory(fd as i32, a, l)) }
pub unsafe fn path_rename(fd: Fd, old_path: &str, new_fd: Fd, new_path: &str) -> Result<(), Errno> {
    let (a, l) = s(old_path); let (b, m) = s(new_path); ok(raw::path_rename(fd as i32, a, l, new_fd as i32, b, m))
}
pub unsafe fn path_symlink(old_path: &str, fd: Fd, new_path: &str) -> Result<(), Errno> {
    let (a, l) = s(old_path); let (b, m) = s(new_path); ok(raw::path_symlink(a, l, fd as i32, b, m))
}
pub unsafe fn path_unlink_file(fd: Fd, path: &str) -> Result<(), Errno> { let (a, l) = s(path); ok(raw::path_unlink_file(fd as i32, a, l)) }
pub unsafe fn poll_oneoff(subs: *const Subscription, events: *mut Event, nsubs: Size) -> Result<Size, Errno> {
    let mut out = 0usize; ok(raw::poll_oneoff(p(subs), pm(events), nsubs as i32, pm(&mut out))).map(|_| out)
}
pub unsafe fn random_get(buf: *mut u8, buf_len: Size) -> Result<(), Errno> { ok(raw::random_get(pm(buf), buf_len as i32)) }
pub unsafe fn sched_yield() -> Result<(), Errno> { ok(raw::sched_yield()) }
