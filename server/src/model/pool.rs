//! The model's worker threads: started once, each told its part of every product by an
//! epoch counter that it spins on between parts, as ggml's thread pool does. A token of
//! the default model is about 150 products of 10-50 µs each; waking a sleeping thread (or
//! handing work to rayon) costs about as much as one of them, spinning well under 1 µs.
//! A thread that finds nothing to do for a while sleeps until the next part comes.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle worker spins before it sleeps: longer than the gap between two
/// products of one token (sampling takes about 1 ms), far shorter than a human's pause.
const SPIN: Duration = Duration::from_millis(3);

type Task = dyn Fn(usize) + Sync;

struct Shared {
    /// The current part's function, set by `run` before it bumps `epoch` and valid until
    /// every worker has counted itself out of `pending`.
    task: UnsafeCell<Option<*const Task>>,
    epoch: AtomicU64,
    pending: AtomicUsize,
    panicked: AtomicBool,
    sleeping: AtomicUsize,
    stop: AtomicBool,
    wake: Mutex<()>,
    woken: Condvar,
}

// Safety: `task` is written only by `run` while no worker reads it (between parts, under
// `turn`), and read by workers only between the epoch's release and their `pending` count.
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

pub struct Pool {
    threads: usize,
    shared: Arc<Shared>,
    /// One caller at a time hands out parts.
    turn: Mutex<()>,
    workers: Vec<JoinHandle<()>>,
}

impl Pool {
    /// A pool of `threads` in all: the caller of `run` is one of them.
    pub fn new(threads: usize) -> Pool {
        let threads = threads.max(1);
        let shared = Arc::new(Shared {
            task: UnsafeCell::new(None),
            epoch: AtomicU64::new(0),
            pending: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            sleeping: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            wake: Mutex::new(()),
            woken: Condvar::new(),
        });
        let workers = (1..threads)
            .filter_map(|index| {
                let shared = shared.clone();
                std::thread::Builder::new()
                    .name(format!("parley-model-{index}"))
                    .spawn(move || work(&shared, index))
                    .ok()
            })
            .collect::<Vec<_>>();
        Pool { threads: workers.len() + 1, shared, turn: Mutex::new(()), workers }
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Calls `task(i)` once for each `i` in `0..threads()`, on all threads at once (the
    /// caller takes 0), and returns when all have returned. A panic in a worker's part is
    /// raised here.
    pub fn run(&self, task: &(dyn Fn(usize) + Sync)) {
        if self.threads == 1 {
            return task(0);
        }
        let _turn = self.turn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let shared = &*self.shared;
        // Safety: the pointer outlives its use, because this function does not return before
        // every worker has finished with it (the wait on `pending` below, also on a panic).
        let erased: *const Task = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), &Task>(task) };
        unsafe { *shared.task.get() = Some(erased) };
        shared.pending.store(self.threads - 1, Ordering::SeqCst);
        shared.epoch.fetch_add(1, Ordering::SeqCst);
        if shared.sleeping.load(Ordering::SeqCst) > 0 {
            let _wake = shared.wake.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            shared.woken.notify_all();
        }
        let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task(0)));
        while shared.pending.load(Ordering::Acquire) > 0 {
            std::hint::spin_loop();
        }
        unsafe { *shared.task.get() = None };
        if let Err(panic) = mine {
            std::panic::resume_unwind(panic);
        }
        if shared.panicked.swap(false, Ordering::SeqCst) {
            panic!("a model thread panicked");
        }
    }
}

fn work(shared: &Shared, index: usize) {
    let mut seen = 0u64;
    loop {
        let idle = Instant::now();
        let mut spins = 0u32;
        let epoch = loop {
            let epoch = shared.epoch.load(Ordering::Acquire);
            if epoch != seen || shared.stop.load(Ordering::Acquire) {
                break epoch;
            }
            spins = spins.wrapping_add(1);
            if spins % 1024 == 0 && idle.elapsed() > SPIN {
                let mut guard = shared.wake.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                shared.sleeping.fetch_add(1, Ordering::SeqCst);
                while shared.epoch.load(Ordering::SeqCst) == seen && !shared.stop.load(Ordering::SeqCst) {
                    guard = shared.woken.wait(guard).unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                shared.sleeping.fetch_sub(1, Ordering::SeqCst);
            }
            std::hint::spin_loop();
        };
        if shared.stop.load(Ordering::Acquire) {
            return;
        }
        seen = epoch;
        // Safety: set before the epoch was bumped; `run` keeps it alive until `pending` is 0.
        let task = unsafe { (*shared.task.get()).map(|task| &*task) };
        if let Some(task) = task
            && std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| task(index))).is_err()
        {
            shared.panicked.store(true, Ordering::SeqCst);
        }
        shared.pending.fetch_sub(1, Ordering::Release);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        {
            let _wake = self.shared.wake.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            self.shared.woken.notify_all();
        }
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

/// The part `[start, end)` of `0..len` that thread `index` of `threads` takes, in steps of
/// `align` (the last part takes what is left).
pub fn part(len: usize, index: usize, threads: usize, align: usize) -> (usize, usize) {
    let align = align.max(1);
    let steps = len.div_ceil(align);
    let each = steps.div_ceil(threads.max(1));
    let start = (index * each * align).min(len);
    let end = ((index + 1) * each * align).min(len);
    (start, end)
}

/// Writes to disjoint places of one buffer from several threads.
#[derive(Clone, Copy)]
pub struct Disjoint {
    at: *mut f32,
    len: usize,
}

// Safety: callers write disjoint indices (each thread its own part) and read none of
// another's until `Pool::run` has returned.
unsafe impl Send for Disjoint {}
unsafe impl Sync for Disjoint {}

impl Disjoint {
    pub fn new(buffer: &mut [f32]) -> Disjoint {
        Disjoint { at: buffer.as_mut_ptr(), len: buffer.len() }
    }

    /// Safety: no other thread writes or reads index `i` during this `run`.
    #[inline]
    pub unsafe fn set(&self, i: usize, value: f32) {
        assert!(i < self.len);
        unsafe { *self.at.add(i) = value };
    }

    /// The slice `[start, end)`. Safety: as `set`, for every index in it.
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn slice(&self, start: usize, end: usize) -> &mut [f32] {
        assert!(start <= end && end <= self.len);
        unsafe { std::slice::from_raw_parts_mut(self.at.add(start), end - start) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_runs_once_on_each_thread_count() {
        for threads in [1, 2, 3, 8] {
            let pool = Pool::new(threads);
            for round in 0..200 {
                let mut out = vec![0f32; 1000];
                let shared = Disjoint::new(&mut out);
                pool.run(&|index| {
                    let (start, end) = part(1000, index, pool.threads(), 16);
                    for i in start..end {
                        unsafe { shared.set(i, (i + round) as f32) };
                    }
                });
                assert!(out.iter().enumerate().all(|(i, v)| *v == (i + round) as f32), "{threads} threads");
            }
        }
    }

    #[test]
    fn a_sleeping_pool_wakes_for_the_next_part() {
        let pool = Pool::new(2);
        let count = AtomicUsize::new(0);
        pool.run(&|_| {
            count.fetch_add(1, Ordering::SeqCst);
        });
        std::thread::sleep(SPIN * 3);
        pool.run(&|_| {
            count.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(count.load(Ordering::SeqCst), 4);
    }

    #[test]
    fn a_panic_in_a_worker_reaches_the_caller_and_the_pool_goes_on() {
        let pool = Pool::new(2);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.run(&|index| assert_eq!(index, 0, "worker part"));
        }));
        assert!(result.is_err());
        let count = AtomicUsize::new(0);
        pool.run(&|_| {
            count.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(count.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn parts_cover_the_range_without_overlap() {
        for (len, threads, align) in [(576, 2, 16), (49152, 3, 32), (5, 8, 16), (0, 2, 1)] {
            let mut next = 0;
            for index in 0..threads {
                let (start, end) = part(len, index, threads, align);
                assert_eq!(start, next.min(len));
                next = end.max(start);
            }
            assert_eq!(next, len);
        }
    }
}
