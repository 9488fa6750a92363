//! A persistent thread pool for the per-token path.
//!
//! `std::thread::scope` spawns and joins threads on every matrix product;
//! a decode step has over a hundred of them. Here `n - 1` workers live as
//! long as the pool and the calling thread works too: [`ThreadPool::run`]
//! publishes a job (a borrowed closure and a task count) by bumping a
//! generation counter, every thread claims task indices from a shared
//! counter until none are left, and `run` returns once every worker has
//! finished with the job. Idle workers spin on the generation counter for a
//! short while (the next matmul of a token usually comes within
//! microseconds), then sleep on a condition variable.
//!
//! Nothing is allocated per call. A panic in a task is caught on the thread
//! that ran it; the remaining tasks still run, and `run` then resumes the
//! first panic on the caller (so nothing deadlocks and no borrowed data
//! outlives the call). A `run` from inside a task runs its tasks inline on
//! that thread; `run` from several threads at once is serialized.

use std::any::Any;
use std::cell::{Cell, UnsafeCell};
use std::fmt;
use std::hint::spin_loop;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

thread_local! {
    /// Set on pool workers, and on a caller while it runs tasks: a nested
    /// `run` then executes inline instead of waiting on itself.
    static IN_POOL: Cell<bool> = const { Cell::new(false) };
}

/// How long an idle worker spins before it sleeps, by default.
pub const DEFAULT_SPIN: Duration = Duration::from_micros(200);

/// A type-erased borrowed `Fn(usize) + Sync` and its task count.
#[derive(Clone, Copy)]
struct Job {
    data: *const (),
    call: unsafe fn(*const (), usize),
    n_tasks: usize,
}

/// Calls the `F` behind `data` with task `i`.
///
/// # Safety
/// `data` must point to a live `F`.
unsafe fn call<F: Fn(usize) + Sync>(data: *const (), i: usize) {
    // SAFETY: the caller guarantees `data` is a live `F`; `F: Sync`, so
    // sharing it between threads is allowed.
    let f = unsafe { &*data.cast::<F>() };
    f(i);
}

struct Shared {
    /// Bumped once per job (and once more at shutdown).
    generation: AtomicUsize,
    /// The current job. Written only by the thread inside `run` (under
    /// `run_lock`) while no worker is between seeing a new generation and
    /// checking out (`pending == 0`); read by workers only in that window.
    job: UnsafeCell<Job>,
    /// Next unclaimed task index.
    next: AtomicUsize,
    /// Workers that have not yet finished the current job.
    pending: AtomicUsize,
    /// Workers asleep or about to sleep on `wake`.
    sleepers: AtomicUsize,
    /// Whether the caller of `run` sleeps on `done` for `pending` to reach 0.
    caller_asleep: AtomicBool,
    done: Condvar,
    shutdown: AtomicBool,
    lock: Mutex<()>,
    wake: Condvar,
    /// The first panic of the current job.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
    spin: Duration,
}

// SAFETY: every field but `job` is Sync; `job` is accessed under the
// protocol described on it (writes happen-before reads through the
// SeqCst/Acquire generation counter, reads happen-before the next write
// through the Release/Acquire `pending` counter), and the `Job` it holds
// points to an `F: Sync` that outlives every access (see `run`).
unsafe impl Sync for Shared {}
// SAFETY: the raw pointer in `job` is only a borrowed `F: Sync`, see above.
unsafe impl Send for Shared {}

impl Shared {
    /// Claims and runs tasks of `job` until none are left, catching panics.
    fn work(&self, job: Job) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= job.n_tasks {
                return;
            }
            // SAFETY: `job.data` is the live closure of the `run` call that
            // published this job: `run` does not return before every worker
            // has checked out of it (`pending == 0`) and its own `work` ended.
            let result = catch_unwind(AssertUnwindSafe(|| unsafe { (job.call)(job.data, i) }));
            if let Err(payload) = result {
                let mut slot = self.panic.lock().unwrap_or_else(PoisonError::into_inner);
                slot.get_or_insert(payload);
            }
        }
    }

    /// Waits until the generation differs from `seen` and returns it:
    /// spinning for `spin`, then sleeping on the condition variable.
    fn wait_for_job(&self, seen: usize) -> usize {
        let start = Instant::now();
        let mut spins = 0u32;
        loop {
            let g = self.generation.load(Ordering::Acquire);
            if g != seen {
                return g;
            }
            spin_loop();
            spins = spins.wrapping_add(1);
            if spins & 63 == 0 && start.elapsed() >= self.spin {
                break;
            }
        }
        let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        // SeqCst pairs with `publish`: either it sees this increment and
        // notifies under the lock, or this load sees its new generation.
        self.sleepers.fetch_add(1, Ordering::SeqCst);
        loop {
            let g = self.generation.load(Ordering::SeqCst);
            if g != seen {
                self.sleepers.fetch_sub(1, Ordering::SeqCst);
                return g;
            }
            guard = self.wake.wait(guard).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// A worker is done with the current job; the last one wakes the caller
    /// if it went to sleep.
    fn check_out(&self) {
        // SeqCst pairs with `wait_for_workers`, as in `publish`.
        if self.pending.fetch_sub(1, Ordering::SeqCst) == 1 && self.caller_asleep.load(Ordering::SeqCst) {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.done.notify_all();
        }
    }

    /// Returns once every worker has checked out of the current job:
    /// spinning for `spin`, then sleeping on `done` (so that a caller whose
    /// workers were preempted leaves them the core).
    fn wait_for_workers(&self) {
        let start = Instant::now();
        let mut spins = 0u32;
        while self.pending.load(Ordering::Acquire) != 0 {
            spin_loop();
            spins = spins.wrapping_add(1);
            if spins & 63 == 0 && start.elapsed() >= self.spin {
                let mut guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
                self.caller_asleep.store(true, Ordering::SeqCst);
                while self.pending.load(Ordering::SeqCst) != 0 {
                    guard = self.done.wait(guard).unwrap_or_else(PoisonError::into_inner);
                }
                self.caller_asleep.store(false, Ordering::Relaxed);
                return;
            }
        }
    }

    /// Starts a new generation and wakes sleeping workers.
    fn publish(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
            self.wake.notify_all();
        }
    }
}

fn worker_loop(shared: &Shared) {
    IN_POOL.with(|f| f.set(true));
    // Generation 0 is the pool's creation: any job published since, even
    // before this thread got to run, is newer and gets picked up.
    let mut seen = 0;
    loop {
        seen = shared.wait_for_job(seen);
        if shared.shutdown.load(Ordering::Acquire) {
            return;
        }
        // SAFETY: the new generation was published (SeqCst RMW, a release)
        // after `run` wrote the job, and this Acquire load saw it; `run`
        // does not write again until this worker decrements `pending`.
        let job = unsafe { *shared.job.get() };
        shared.work(job);
        shared.check_out();
    }
}

/// A fixed set of worker threads that run indexed tasks with the caller.
pub struct ThreadPool {
    shared: Arc<Shared>,
    workers: Vec<JoinHandle<()>>,
    run_lock: Mutex<()>,
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadPool")
            .field("threads", &self.threads())
            .field("spin", &self.shared.spin)
            .finish()
    }
}

impl ThreadPool {
    /// A pool where `threads` threads (the caller and `threads - 1`
    /// workers, at least one thread in all) run each job.
    pub fn new(threads: usize) -> std::io::Result<Self> {
        Self::with_spin(threads, DEFAULT_SPIN)
    }

    /// Like [`ThreadPool::new`], with idle workers spinning for `spin`
    /// before they sleep (zero: sleep at once).
    pub fn with_spin(threads: usize, spin: Duration) -> std::io::Result<Self> {
        let shared = Arc::new(Shared {
            generation: AtomicUsize::new(0),
            job: UnsafeCell::new(Job {
                data: std::ptr::null(),
                call: call::<fn(usize)>,
                n_tasks: 0,
            }),
            next: AtomicUsize::new(0),
            pending: AtomicUsize::new(0),
            sleepers: AtomicUsize::new(0),
            caller_asleep: AtomicBool::new(false),
            done: Condvar::new(),
            shutdown: AtomicBool::new(false),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            panic: Mutex::new(None),
            spin,
        });
        let mut pool = ThreadPool {
            shared,
            workers: Vec::new(),
            run_lock: Mutex::new(()),
        };
        for i in 1..threads.max(1) {
            let shared = Arc::clone(&pool.shared);
            let handle = std::thread::Builder::new()
                .name(format!("sobre-pool-{i}"))
                .spawn(move || worker_loop(&shared))?;
            // On an error above, dropping `pool` stops the workers so far.
            pool.workers.push(handle);
        }
        Ok(pool)
    }

    /// Threads that run each job, the caller included.
    pub fn threads(&self) -> usize {
        self.workers.len() + 1
    }

    /// Runs `f(i)` for every `i` in `0..n_tasks`, spread over the pool's
    /// threads and the caller, and returns when all are done. Tasks are
    /// claimed dynamically, so more tasks than threads balance uneven work.
    ///
    /// # Panics
    /// Resumes the first panic of any task, after all tasks have run.
    pub fn run<F: Fn(usize) + Sync>(&self, n_tasks: usize, f: F) {
        if n_tasks == 0 {
            return;
        }
        if self.workers.is_empty() || n_tasks == 1 || IN_POOL.with(Cell::get) {
            (0..n_tasks).for_each(f);
            return;
        }
        let _serial = self.run_lock.lock().unwrap_or_else(PoisonError::into_inner);
        let sh = &*self.shared;
        let job = Job {
            data: (&raw const f).cast(),
            call: call::<F>,
            n_tasks,
        };
        // SAFETY: `run_lock` makes this the only writer, and the previous
        // job ended with `pending == 0` (Acquire below), so no worker reads
        // `job` until `publish`.
        unsafe { *sh.job.get() = job };
        sh.next.store(0, Ordering::Relaxed);
        sh.pending.store(self.workers.len(), Ordering::Relaxed);
        sh.publish();
        IN_POOL.with(|c| c.set(true));
        sh.work(job);
        IN_POOL.with(|c| c.set(false));
        // Every worker must check out before `f` (borrowed by `job`) dies.
        sh.wait_for_workers();
        let panic = sh.panic.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(payload) = panic {
            resume_unwind(payload);
        }
    }

    /// Splits `data` into `chunk`-long pieces (the last may be shorter) and
    /// runs `f(index, piece)` for each on the pool: the usual way to fill
    /// disjoint parts of an output.
    pub fn for_each_chunk_mut<T: Send, F: Fn(usize, &mut [T]) + Sync>(
        &self,
        data: &mut [T],
        chunk: usize,
        f: F,
    ) {
        let chunk = chunk.max(1);
        let len = data.len();
        let base = SendPtr(data.as_mut_ptr());
        self.run(len.div_ceil(chunk), |i| {
            let start = i * chunk;
            let n = chunk.min(len - start);
            // SAFETY: `run` hands out each index once, so the ranges
            // `start..start + n` are disjoint and inside `data`, which is
            // borrowed mutably for the whole call; `T: Send` lets the
            // pieces go to other threads.
            let piece = unsafe { std::slice::from_raw_parts_mut(base.get().add(start), n) };
            f(i, piece);
        });
    }

    /// Splits `data`, rows of `width` values, into `parts` runs of whole
    /// rows (the last may be shorter) and runs `f(first_row, run)` for each
    /// on the pool: rows of activations shared out between threads.
    pub fn for_each_rows_mut<T: Send, F: Fn(usize, &mut [T]) + Sync>(
        &self,
        data: &mut [T],
        width: usize,
        parts: usize,
        f: F,
    ) {
        let per = (data.len() / width.max(1)).div_ceil(parts.max(1)).max(1);
        self.for_each_chunk_mut(data, per * width, |i, run| f(i * per, run));
    }
}

/// A process-wide pool for callers that only carry a thread count (such as
/// `matmul`): created by the first call with `threads` threads and shared
/// by all later calls whatever they pass. A job of `k` tasks still runs at
/// most `k` tasks at a time, so callers asking for fewer threads than the
/// pool has split their work into fewer tasks.
///
/// # Panics
/// If the operating system refuses to start the worker threads.
pub fn global(threads: usize) -> &'static ThreadPool {
    static POOL: std::sync::OnceLock<ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| ThreadPool::new(threads).expect("starting the kernel thread pool"))
}

/// A raw pointer that may cross threads (see `for_each_chunk_mut`).
struct SendPtr<T>(*mut T);

impl<T> SendPtr<T> {
    fn get(&self) -> *mut T {
        self.0
    }
}

// SAFETY: only used by `for_each_chunk_mut` to hand disjoint pieces of a
// `&mut [T]` with `T: Send` to the pool's threads.
unsafe impl<T: Send> Sync for SendPtr<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for SendPtr<T> {}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::Release);
        self.shared.publish();
        for handle in self.workers.drain(..) {
            // A worker only ends by returning; a panic there would be a bug
            // in this module, not worth a second panic during drop.
            let _ = handle.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;

    #[test]
    fn row_runs_are_whole_rows_that_know_their_first_row() {
        let pool = ThreadPool::new(3).unwrap();
        for (rows, width, parts) in [(10, 3, 3), (7, 4, 2), (1, 5, 3), (5, 1, 8), (0, 2, 2)] {
            // Each value holds its own row index once `f` has run.
            let mut data = vec![usize::MAX; rows * width];
            pool.for_each_rows_mut(&mut data, width, parts, |first, run| {
                assert_eq!(run.len() % width, 0, "a run of whole rows");
                for (k, row) in run.chunks_exact_mut(width).enumerate() {
                    row.fill(first + k);
                }
            });
            let want: Vec<usize> = (0..rows * width).map(|i| i / width).collect();
            assert_eq!(data, want, "{rows} rows of {width} in {parts} parts");
        }
    }

    #[test]
    fn every_task_runs_exactly_once_over_many_calls() {
        let pool = ThreadPool::new(4).unwrap();
        let hits: Vec<AtomicU64> = (0..97).map(|_| AtomicU64::new(0)).collect();
        for round in 0..2000 {
            let n = 1 + round % 97;
            pool.run(n, |i| {
                hits[i].fetch_add(1, Ordering::Relaxed);
            });
        }
        let expect = |i: usize| (0..2000).filter(|r| 1 + r % 97 > i).count() as u64;
        for (i, h) in hits.iter().enumerate() {
            assert_eq!(h.load(Ordering::Relaxed), expect(i), "task {i}");
        }
    }

    #[test]
    fn results_are_visible_after_run() {
        let pool = ThreadPool::new(3).unwrap();
        let mut out = vec![0u64; 1000];
        for round in 1..200u64 {
            pool.for_each_chunk_mut(&mut out, 7, |c, piece| {
                for (k, v) in piece.iter_mut().enumerate() {
                    *v = (c * 7 + k) as u64 * round;
                }
            });
            assert!(out.iter().enumerate().all(|(i, &v)| v == i as u64 * round));
        }
    }

    #[test]
    fn workers_that_fell_asleep_wake_up() {
        let pool = ThreadPool::with_spin(2, Duration::ZERO).unwrap();
        let count = AtomicUsize::new(0);
        for _ in 0..50 {
            std::thread::sleep(Duration::from_micros(200));
            pool.run(8, |_| {
                count.fetch_add(1, Ordering::Relaxed);
            });
        }
        assert_eq!(count.load(Ordering::Relaxed), 400);
    }

    #[test]
    fn nested_run_executes_inline() {
        let pool = ThreadPool::new(2).unwrap();
        let count = AtomicUsize::new(0);
        pool.run(4, |_| {
            pool.run(3, |_| {
                count.fetch_add(1, Ordering::Relaxed);
            });
        });
        assert_eq!(count.load(Ordering::Relaxed), 12);
    }

    #[test]
    fn panics_propagate_and_the_pool_survives() {
        let pool = ThreadPool::new(3).unwrap();
        let done = AtomicUsize::new(0);
        let r = catch_unwind(AssertUnwindSafe(|| {
            pool.run(64, |i| {
                if i == 5 {
                    panic!("task five");
                }
                done.fetch_add(1, Ordering::Relaxed);
            })
        }));
        let payload = r.expect_err("the panic comes back to the caller");
        assert_eq!(payload.downcast_ref::<&str>(), Some(&"task five"));
        assert_eq!(done.load(Ordering::Relaxed), 63, "other tasks still ran");
        let again = AtomicUsize::new(0);
        pool.run(10, |_| {
            again.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(again.load(Ordering::Relaxed), 10);
    }

    #[test]
    fn drop_joins_the_workers() {
        // Workers hold the shared state until their thread ends.
        let pool = ThreadPool::new(4).unwrap();
        pool.run(4, |_| {});
        let shared = Arc::downgrade(&pool.shared);
        drop(pool);
        assert!(shared.upgrade().is_none(), "a worker outlived the pool");
        // Sleeping workers are woken for shutdown too.
        let pool = ThreadPool::with_spin(3, Duration::ZERO).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        let shared = Arc::downgrade(&pool.shared);
        drop(pool);
        assert!(shared.upgrade().is_none(), "a sleeping worker outlived the pool");
    }

    #[test]
    fn single_thread_pool_runs_on_the_caller() {
        let pool = ThreadPool::new(1).unwrap();
        assert_eq!(pool.threads(), 1);
        let me = std::thread::current().id();
        pool.run(5, |_| assert_eq!(std::thread::current().id(), me));
    }

    #[test]
    fn concurrent_callers_are_serialized() {
        let pool = ThreadPool::new(2).unwrap();
        let count = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    for _ in 0..300 {
                        pool.run(5, |_| {
                            count.fetch_add(1, Ordering::Relaxed);
                        });
                    }
                });
            }
        });
        assert_eq!(count.load(Ordering::Relaxed), 4500);
    }
}
