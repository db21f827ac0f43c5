//! The generator's threads: one single-threaded tokio runtime per core, each owning the
//! connections spawned on it. Cheaper than a work-stealing runtime for tens of thousands of small
//! socket tasks (no cross-thread wake-ups), which leaves more of the shared machine to the server.

use std::future::Future;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::runtime::Handle;
use tokio::sync::oneshot;

pub struct Workers {
    handles: Vec<Handle>,
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Workers {
    /// Start `n` threads (at least one).
    pub fn start(n: usize) -> Result<Self> {
        let mut workers = Self { handles: Vec::new(), stops: Vec::new(), threads: Vec::new() };
        for i in 0..n.max(1) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("cannot start a generator runtime")?;
            let (stop, stopped) = oneshot::channel::<()>();
            workers.handles.push(runtime.handle().clone());
            workers.stops.push(stop);
            let thread = std::thread::Builder::new()
                .name(format!("loadgen-{i}"))
                .spawn(move || {
                    runtime.block_on(async {
                        let _ = stopped.await;
                    });
                    runtime.shutdown_timeout(Duration::from_secs(1));
                })
                .context("cannot start a generator thread")?;
            workers.threads.push(thread);
        }
        Ok(workers)
    }

    /// Run `future` on worker `key mod n`.
    pub fn spawn<F>(&self, key: usize, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = &self.handles[key % self.handles.len()];
        drop(handle.spawn(future));
    }

    /// Stop every thread (tasks still running are dropped).
    pub fn stop(mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}
