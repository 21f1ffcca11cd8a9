//! Progress of `store`, `get` and `move`: a progress bar on a terminal (files and bytes
//! done, rate, time left, by `indicatif`), plain log lines otherwise.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// A progress display: a bar when stderr is a terminal, nothing drawn otherwise.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    files: u64,
}

impl Progress {
    /// Progress over `files` files of `bytes` bytes in all (store: both known at
    /// start).
    pub fn bytes(files: u64, bytes: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(bytes);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} \
                     eta {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        let progress = Self { bar, files };
        progress.set_files(0);
        progress
    }

    /// Progress over instances whose number is learnt on the way (get, move: the
    /// pending responses say how many remain).
    pub fn instances() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(0);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} instances {per_sec} eta {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Self { bar, files: 0 }
    }

    /// Whether a bar is drawn.
    pub fn is_drawn(&self) -> bool {
        self.bar.is_some()
    }

    /// Sets the bytes done.
    pub fn set_bytes(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.set_position(bytes);
        }
    }

    /// Sets the files done (of those given to [`bytes`](Self::bytes)).
    pub fn set_files(&self, done: u64) {
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{done}/{} files", self.files));
        }
    }

    /// Sets the instances done and the total known so far.
    pub fn set_instances(&self, done: u64, total: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(total.max(done));
            bar.set_position(done);
        }
    }

    /// Prints `line` to stdout, above the bar when there is one.
    pub fn println(&self, line: &str) {
        let print = || {
            use std::io::Write as _;
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
        };
        match &self.bar {
            Some(bar) => bar.suspend(print),
            None => print(),
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
