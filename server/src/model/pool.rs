//! The model's worker threads: started once, each told of every product by an epoch
//! counter that it spins on between products, as ggml's thread pool does. A token of the
//! default model is about 150 products of 10-50 µs each; waking a sleeping thread (or
//! handing work to rayon) costs about as much as one of them, spinning well under 1 µs.
//! A thread that finds nothing to do for a while sleeps until the next product comes.
//!
//! A product is cut into chunks that the threads claim one at a time, so a thread that
//! the OS has set aside (two cores shared with the web server, the database, a compiler)
//! holds up nobody: the caller takes the chunks it does not claim, and does not wait for
//! a worker that had not started when the chunks ran out (it closes that worker's turn).

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long an idle worker spins before it sleeps: longer than the gap between two
/// products of one token (sampling takes about 1 ms), far shorter than a human's pause.
const SPIN: Duration = Duration::from_millis(3);
/// Set in a worker's state while it takes chunks of the epoch in the other bits.
const RUNNING: u64 = 1 << 63;

type Task = dyn Fn(usize) + Sync;

struct Shared {
    /// The current product's function, set by `run` before it bumps `epoch` and valid
    /// until no worker is running it.
    task: UnsafeCell<Option<*const Task>>,
    epoch: AtomicU64,
    chunks: AtomicUsize,
    next: AtomicUsize,
    /// Per worker: the last epoch it finished or was closed for, or an epoch it is in
    /// with `RUNNING` set. At the start of epoch `e` every state is `e - 1`.
    states: Vec<AtomicU64>,
    panicked: AtomicBool,
    sleeping: AtomicUsize,
    stop: AtomicBool,
    wake: Mutex<()>,
    woken: Condvar,
}

// Safety: `task` is written only by `run` while no worker runs it (between products, under
// `turn`), and read by a worker only after it entered the epoch, which `run` waits out.
unsafe impl Sync for Shared {}
unsafe impl Send for Shared {}

impl Shared {
    /// Claims and runs chunks until none is left.
    fn take_chunks(&self, task: &(dyn Fn(usize) + Sync)) {
        let chunks = self.chunks.load(SeqCst);
        loop {
            let chunk = self.next.fetch_add(1, SeqCst);
            if chunk >= chunks {
                return;
            }
            task(chunk);
        }
    }
}

pub struct Pool {
    threads: usize,
    shared: Arc<Shared>,
    /// One caller at a time hands out products.
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
            chunks: AtomicUsize::new(0),
            next: AtomicUsize::new(0),
            states: (1..threads).map(|_| AtomicU64::new(0)).collect(),
            panicked: AtomicBool::new(false),
            sleeping: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            wake: Mutex::new(()),
            woken: Condvar::new(),
        });
        let mut workers = vec![];
        for index in 0..threads - 1 {
            let shared = shared.clone();
            match std::thread::Builder::new()
                .name(format!("parley-model-{}", index + 1))
                .spawn(move || work(&shared, index))
            {
                Ok(handle) => workers.push(handle),
                // A worker that did not start never enters an epoch: `run` closes its turns.
                Err(err) => tracing::warn!(%err, "cannot start a model thread"),
            }
        }
        Pool { threads: workers.len() + 1, shared, turn: Mutex::new(()), workers }
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// Calls `task(c)` once for each chunk `c` in `0..chunks`, on all threads at once (the
    /// caller too), and returns when all have returned. A panic in a chunk is raised here.
    pub fn run(&self, chunks: usize, task: &(dyn Fn(usize) + Sync)) {
        if self.threads == 1 || chunks <= 1 {
            return (0..chunks).for_each(task);
        }
        let _turn = self.turn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let shared = &*self.shared;
        // Safety: the pointer outlives its use, because this function does not return while
        // a worker runs it (the wait below, also on a panic).
        let erased: *const Task = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), &Task>(task) };
        unsafe { *shared.task.get() = Some(erased) };
        shared.chunks.store(chunks, SeqCst);
        shared.next.store(0, SeqCst);
        let epoch = shared.epoch.fetch_add(1, SeqCst) + 1;
        if shared.sleeping.load(SeqCst) > 0 {
            let _wake = shared.wake.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            shared.woken.notify_all();
        }
        let mine = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shared.take_chunks(task)));
        // No chunk is left: close the turn of every worker that has not entered, and wait
        // for those that did.
        for state in &shared.states {
            if let Err(mut now) = state.compare_exchange(epoch - 1, epoch, SeqCst, SeqCst) {
                while now != epoch {
                    debug_assert_eq!(now, epoch | RUNNING);
                    std::hint::spin_loop();
                    now = state.load(SeqCst);
                }
            }
        }
        unsafe { *shared.task.get() = None };
        if let Err(panic) = mine {
            std::panic::resume_unwind(panic);
        }
        if shared.panicked.swap(false, SeqCst) {
            panic!("a model thread panicked");
        }
    }
}

fn work(shared: &Shared, index: usize) {
    let state = &shared.states[index];
    let mut seen = 0u64;
    loop {
        let idle = Instant::now();
        let mut spins = 0u32;
        let epoch = loop {
            let epoch = shared.epoch.load(SeqCst);
            if epoch != seen || shared.stop.load(SeqCst) {
                break epoch;
            }
            spins = spins.wrapping_add(1);
            if spins % 1024 == 0 && idle.elapsed() > SPIN {
                let mut guard = shared.wake.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                shared.sleeping.fetch_add(1, SeqCst);
                while shared.epoch.load(SeqCst) == seen && !shared.stop.load(SeqCst) {
                    guard = shared.woken.wait(guard).unwrap_or_else(|poisoned| poisoned.into_inner());
                }
                shared.sleeping.fetch_sub(1, SeqCst);
            }
            std::hint::spin_loop();
        };
        if shared.stop.load(SeqCst) {
            return;
        }
        seen = epoch;
        // Enter the epoch unless `run` closed this worker's turn (it ran out of chunks first).
        if state.compare_exchange(epoch - 1, epoch | RUNNING, SeqCst, SeqCst).is_err() {
            continue;
        }
        // Safety: set before the epoch was bumped; `run` keeps it until this state is done.
        let task = unsafe { (*shared.task.get()).map(|task| &*task) };
        if let Some(task) = task
            && std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| shared.take_chunks(task))).is_err()
        {
            shared.panicked.store(true, SeqCst);
        }
        state.store(epoch, SeqCst);
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.shared.stop.store(true, SeqCst);
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

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Safety: no other thread writes or reads index `i` during this `run`.
    #[inline]
    pub unsafe fn set(&self, i: usize, value: f32) {
        assert!(i < self.len);
        unsafe { *self.at.add(i) = value };
    }

    /// The part from `start` on, its indices counted from there.
    pub fn from(&self, start: usize) -> Disjoint {
        assert!(start <= self.len);
        Disjoint { at: self.at.wrapping_add(start), len: self.len - start }
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
                let chunks = 1 + round % 11;
                let mut out = vec![0f32; 1000];
                let shared = Disjoint::new(&mut out);
                pool.run(chunks, &|chunk| {
                    let (start, end) = part(1000, chunk, chunks, 16);
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
        pool.run(4, &|_| {
            count.fetch_add(1, SeqCst);
        });
        std::thread::sleep(SPIN * 3);
        // A chunk that waits until both threads are in: the sleeping worker must come.
        let inside = AtomicUsize::new(0);
        pool.run(2, &|_| {
            inside.fetch_add(1, SeqCst);
            while inside.load(SeqCst) < 2 {
                std::hint::spin_loop();
            }
            count.fetch_add(1, SeqCst);
        });
        assert_eq!(count.load(SeqCst), 6);
    }

    #[test]
    fn a_panic_in_a_worker_reaches_the_caller_and_the_pool_goes_on() {
        let pool = Pool::new(2);
        for _ in 0..20 {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool.run(8, &|chunk| assert_ne!(chunk, 5, "chunk 5"));
            }));
            assert!(result.is_err());
        }
        let count = AtomicUsize::new(0);
        pool.run(8, &|_| {
            count.fetch_add(1, SeqCst);
        });
        assert_eq!(count.load(SeqCst), 8);
    }

    /// Many short products in a row, where the worker often comes late or not at all (its
    /// turn closed): every chunk runs exactly once, whoever takes it.
    #[test]
    fn chunks_run_once_each_whoever_takes_them() {
        let pool = Pool::new(2);
        let count = AtomicUsize::new(0);
        for _ in 0..1000 {
            pool.run(16, &|_| {
                count.fetch_add(1, SeqCst);
            });
        }
        assert_eq!(count.load(SeqCst), 16_000);
        // Every chunk ran once, whoever took it, and a late worker took none twice.
        let seen: Vec<AtomicUsize> = (0..64).map(|_| AtomicUsize::new(0)).collect();
        for _ in 0..500 {
            pool.run(64, &|chunk| {
                seen[chunk].fetch_add(1, SeqCst);
            });
        }
        assert!(seen.iter().all(|n| n.load(SeqCst) == 500));
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
