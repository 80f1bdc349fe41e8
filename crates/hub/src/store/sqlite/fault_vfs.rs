//! Tests only: a SQLite VFS that fails the calls a test asks it to, so the writer meets
//! `SQLITE_FULL`, `SQLITE_IOERR` and `SQLITE_BUSY` exactly where SQLite's own fault-injection
//! tests put them: a page write during a statement (a cache spill), a statement journal's
//! write under a savepoint, the WAL frames and the sync of a commit, a lock. A real full disk
//! (testkit's `SmallDisk`) and a real held lock cover the same faults in the other tests; this
//! one reaches the calls those cannot aim at.
//!
//! It wraps the default VFS: every call is passed on unchanged unless the [`Plan`] of its VFS
//! is armed, counting down the calls of the kinds it aims at and failing from the one it
//! reaches (one call for an I/O error; every later one for a full disk or a held lock, until
//! disarmed).

#![allow(unsafe_code)] // an FFI shim over SQLite's VFS, in tests only

use libsqlite3_sys as ffi;
use std::ffi::{c_int, c_void, CString};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};

/// The calls a fault may aim at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `xWrite` of any file of the database (main file, WAL, statement journals).
    Write,
    /// `xSync`.
    Sync,
    /// A lock taken for writing: `xLock` at RESERVED or above, an exclusive `xShmLock`.
    WriteLock,
}

/// What a fault answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Injected {
    /// `SQLITE_FULL` on every write from the countdown on, until disarmed (a disk stays full).
    Full,
    /// `SQLITE_IOERR_WRITE` on one write.
    IoErrWrite,
    /// `SQLITE_IOERR_FSYNC` on one sync.
    IoErrSync,
    /// `SQLITE_BUSY` on every lock for writing from the countdown on, until disarmed (another
    /// process holds the lock; one refusal alone the busy handler would wait out).
    Busy,
}

impl Injected {
    fn aims_at(self, op: Op) -> bool {
        matches!(
            (self, op),
            (Injected::Full | Injected::IoErrWrite, Op::Write)
                | (Injected::IoErrSync, Op::Sync)
                | (Injected::Busy, Op::WriteLock)
        )
    }

    fn code(self) -> c_int {
        match self {
            Injected::Full => ffi::SQLITE_FULL,
            Injected::IoErrWrite => ffi::SQLITE_IOERR_WRITE,
            Injected::IoErrSync => ffi::SQLITE_IOERR_FSYNC,
            Injected::Busy => ffi::SQLITE_BUSY,
        }
    }
}

/// When the VFS fails, and how often it did.
#[derive(Debug, Default)]
pub struct Plan {
    armed: AtomicBool,
    /// Calls of the aimed kind still to pass before the fault.
    countdown: AtomicI64,
    /// [`Injected`] as its index in [`KINDS`].
    kind: AtomicU32,
    /// Faults answered since the VFS was made.
    injected: AtomicU64,
}

const KINDS: [Injected; 4] = [
    Injected::Full,
    Injected::IoErrWrite,
    Injected::IoErrSync,
    Injected::Busy,
];

impl Plan {
    /// Fails the call of `kind`'s aim that comes after `after` others of it.
    pub fn arm(&self, kind: Injected, after: u32) {
        let index = KINDS.iter().position(|k| *k == kind).unwrap_or(0);
        self.kind.store(index as u32, Ordering::SeqCst);
        self.countdown.store(i64::from(after), Ordering::SeqCst);
        self.armed.store(true, Ordering::SeqCst);
    }

    /// No more faults.
    pub fn disarm(&self) {
        self.armed.store(false, Ordering::SeqCst);
    }

    /// How many calls were failed so far.
    pub fn injected(&self) -> u64 {
        self.injected.load(Ordering::SeqCst)
    }

    /// The code to answer `op` with instead of doing it, if any.
    fn fault(&self, op: Op) -> Option<c_int> {
        if !self.armed.load(Ordering::SeqCst) {
            return None;
        }
        let kind = KINDS[self.kind.load(Ordering::SeqCst) as usize % KINDS.len()];
        if !kind.aims_at(op) || self.countdown.fetch_sub(1, Ordering::SeqCst) > 0 {
            return None;
        }
        if !matches!(kind, Injected::Full | Injected::Busy) {
            self.armed.store(false, Ordering::SeqCst);
        }
        self.injected.fetch_add(1, Ordering::SeqCst);
        Some(kind.code())
    }
}

/// What the VFS's `pAppData` points at.
struct Shared {
    real: *mut ffi::sqlite3_vfs,
    plan: &'static Plan,
}

/// An open file: the wrapper's header, then the real VFS's file.
#[repr(C)]
struct FaultFile {
    base: ffi::sqlite3_file,
    plan: *const Plan,
    real: *mut ffi::sqlite3_file,
}

/// Registers a new fault VFS over the default one, named `name`, and returns its plan. The
/// VFS and its plan live as long as the process (SQLite keeps pointers to them).
pub fn register(name: &str) -> &'static Plan {
    let plan: &'static Plan = Box::leak(Box::default());
    // SAFETY: sqlite3_vfs_find(NULL) returns the default VFS, which lives as long as the
    // process; it is only read here. The new VFS, its name and its shared data are leaked, so
    // they outlive every connection that uses them, as sqlite3_vfs_register requires.
    unsafe {
        assert_eq!(ffi::sqlite3_initialize(), ffi::SQLITE_OK);
        let real = ffi::sqlite3_vfs_find(std::ptr::null());
        assert!(!real.is_null(), "SQLite has a default VFS");
        let mut vfs: ffi::sqlite3_vfs = *real;
        let name = CString::new(name).expect("a VFS name without NUL");
        vfs.zName = Box::leak(name.into_boxed_c_str()).as_ptr();
        vfs.pNext = std::ptr::null_mut();
        vfs.szOsFile = (*real).szOsFile + std::mem::size_of::<FaultFile>() as c_int;
        vfs.pAppData = Box::leak(Box::new(Shared { real, plan })) as *mut Shared as *mut c_void;
        vfs.xOpen = Some(x_open);
        let vfs = Box::leak(Box::new(vfs));
        assert_eq!(ffi::sqlite3_vfs_register(vfs, 0), ffi::SQLITE_OK);
    }
    plan
}

unsafe extern "C" fn x_open(
    vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    let shared = &*((*vfs).pAppData as *const Shared);
    let wrapper = file as *mut FaultFile;
    let real = (file as *mut u8).add(std::mem::size_of::<FaultFile>()) as *mut ffi::sqlite3_file;
    (*wrapper).plan = shared.plan;
    (*wrapper).real = real;
    (*wrapper).base.pMethods = std::ptr::null();
    let open = (*shared.real).xOpen.expect("the default VFS opens files");
    let rc = open(shared.real, name, real, flags, out_flags);
    if !(*real).pMethods.is_null() {
        (*wrapper).base.pMethods = &METHODS;
    }
    rc
}

/// The file's real file and its methods.
unsafe fn real(
    file: *mut ffi::sqlite3_file,
) -> (*mut ffi::sqlite3_file, &'static ffi::sqlite3_io_methods) {
    let real = (*(file as *mut FaultFile)).real;
    (real, &*(*real).pMethods)
}

unsafe fn fault(file: *mut ffi::sqlite3_file, op: Op) -> Option<c_int> {
    (*(*(file as *mut FaultFile)).plan).fault(op)
}

// Version 2: the shared-memory calls WAL needs, and no memory-mapped reads (version 3), so
// every page write goes through xWrite.
static METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 2,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_unlock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: Some(x_shm_map),
    xShmLock: Some(x_shm_lock),
    xShmBarrier: Some(x_shm_barrier),
    xShmUnmap: Some(x_shm_unmap),
    xFetch: None,
    xUnfetch: None,
};

unsafe extern "C" fn x_close(file: *mut ffi::sqlite3_file) -> c_int {
    let (real, m) = real(file);
    m.xClose.map_or(ffi::SQLITE_OK, |f| f(real))
}

unsafe extern "C" fn x_read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amt: c_int,
    off: ffi::sqlite3_int64,
) -> c_int {
    let (real, m) = real(file);
    m.xRead
        .map_or(ffi::SQLITE_IOERR_READ, |f| f(real, buf, amt, off))
}

unsafe extern "C" fn x_write(
    file: *mut ffi::sqlite3_file,
    buf: *const c_void,
    amt: c_int,
    off: ffi::sqlite3_int64,
) -> c_int {
    if let Some(rc) = fault(file, Op::Write) {
        return rc;
    }
    let (real, m) = real(file);
    m.xWrite
        .map_or(ffi::SQLITE_IOERR_WRITE, |f| f(real, buf, amt, off))
}

unsafe extern "C" fn x_truncate(file: *mut ffi::sqlite3_file, size: ffi::sqlite3_int64) -> c_int {
    let (real, m) = real(file);
    m.xTruncate
        .map_or(ffi::SQLITE_IOERR_TRUNCATE, |f| f(real, size))
}

unsafe extern "C" fn x_sync(file: *mut ffi::sqlite3_file, flags: c_int) -> c_int {
    if let Some(rc) = fault(file, Op::Sync) {
        return rc;
    }
    let (real, m) = real(file);
    m.xSync.map_or(ffi::SQLITE_IOERR_FSYNC, |f| f(real, flags))
}

unsafe extern "C" fn x_file_size(
    file: *mut ffi::sqlite3_file,
    size: *mut ffi::sqlite3_int64,
) -> c_int {
    let (real, m) = real(file);
    m.xFileSize
        .map_or(ffi::SQLITE_IOERR_FSTAT, |f| f(real, size))
}

unsafe extern "C" fn x_lock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    if level >= ffi::SQLITE_LOCK_RESERVED {
        if let Some(rc) = fault(file, Op::WriteLock) {
            return rc;
        }
    }
    let (real, m) = real(file);
    m.xLock.map_or(ffi::SQLITE_IOERR_LOCK, |f| f(real, level))
}

unsafe extern "C" fn x_unlock(file: *mut ffi::sqlite3_file, level: c_int) -> c_int {
    let (real, m) = real(file);
    m.xUnlock
        .map_or(ffi::SQLITE_IOERR_UNLOCK, |f| f(real, level))
}

unsafe extern "C" fn x_check_reserved_lock(file: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    let (real, m) = real(file);
    m.xCheckReservedLock
        .map_or(ffi::SQLITE_IOERR_CHECKRESERVEDLOCK, |f| f(real, out))
}

unsafe extern "C" fn x_file_control(
    file: *mut ffi::sqlite3_file,
    op: c_int,
    arg: *mut c_void,
) -> c_int {
    let (real, m) = real(file);
    m.xFileControl
        .map_or(ffi::SQLITE_NOTFOUND, |f| f(real, op, arg))
}

unsafe extern "C" fn x_sector_size(file: *mut ffi::sqlite3_file) -> c_int {
    let (real, m) = real(file);
    m.xSectorSize.map_or(4096, |f| f(real))
}

unsafe extern "C" fn x_device_characteristics(file: *mut ffi::sqlite3_file) -> c_int {
    let (real, m) = real(file);
    m.xDeviceCharacteristics.map_or(0, |f| f(real))
}

unsafe extern "C" fn x_shm_map(
    file: *mut ffi::sqlite3_file,
    page: c_int,
    size: c_int,
    extend: c_int,
    out: *mut *mut c_void,
) -> c_int {
    let (real, m) = real(file);
    m.xShmMap.map_or(ffi::SQLITE_IOERR_SHMMAP, |f| {
        f(real, page, size, extend, out)
    })
}

unsafe extern "C" fn x_shm_lock(
    file: *mut ffi::sqlite3_file,
    offset: c_int,
    n: c_int,
    flags: c_int,
) -> c_int {
    let exclusive = flags & ffi::SQLITE_SHM_LOCK != 0 && flags & ffi::SQLITE_SHM_EXCLUSIVE != 0;
    if exclusive {
        if let Some(rc) = fault(file, Op::WriteLock) {
            return rc;
        }
    }
    let (real, m) = real(file);
    m.xShmLock
        .map_or(ffi::SQLITE_IOERR_SHMLOCK, |f| f(real, offset, n, flags))
}

unsafe extern "C" fn x_shm_barrier(file: *mut ffi::sqlite3_file) {
    let (real, m) = real(file);
    if let Some(f) = m.xShmBarrier {
        f(real)
    }
}

unsafe extern "C" fn x_shm_unmap(file: *mut ffi::sqlite3_file, delete: c_int) -> c_int {
    let (real, m) = real(file);
    m.xShmUnmap.map_or(ffi::SQLITE_OK, |f| f(real, delete))
}
