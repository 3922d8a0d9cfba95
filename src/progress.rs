//! The progress display on stderr: an indicatif bar with the file, its role and tokens/s, and
//! one line per model event. It draws only when stderr is a terminal (indicatif's rule), so logs
//! and CI output stay clean; the per-file summary is printed separately at the end.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use codey::engine::{Progress, ProgressEvent};
use codey::lifecycle::Event;

/// The bar; clones draw on the same bar.
#[derive(Clone)]
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    pub fn new(enabled: bool) -> Self {
        let target = if enabled {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} [{pos}/{len}] {prefix} {wide_msg} {elapsed}")
        {
            bar.set_style(style);
        }
        Bar { bar }
    }

    /// Shows a lifecycle event above the bar.
    pub fn lifecycle(&self, event: &Event) {
        let line = match event {
            Event::Load { role, estimated_mb } => {
                format!("loading {role} model (estimated {estimated_mb} MB)")
            }
            Event::Evict { role, for_role } => {
                format!("evicting {role} model to make room for {for_role}")
            }
            Event::IdleUnload { role, idle_seconds } => {
                format!("unloading {role} model after {idle_seconds}s idle")
            }
            Event::Unload { role } => format!("unloading {role} model"),
        };
        self.bar.set_message(line);
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Progress for Bar {
    fn event(&mut self, event: ProgressEvent<'_>) {
        match event {
            ProgressEvent::Routing { files } => {
                self.bar.set_length(files as u64);
                self.bar.set_prefix("routing");
            }
            ProgressEvent::Routed { path, .. } => {
                self.bar.inc(1);
                self.bar.set_message(path.to_owned());
            }
            ProgressEvent::FileStart {
                path,
                role,
                index,
                total,
            } => {
                self.bar.set_length(total as u64);
                self.bar.set_position(index as u64);
                self.bar.set_prefix(format!("{role}"));
                self.bar.set_message(path.to_owned());
            }
            ProgressEvent::Tokens {
                generated,
                tokens_per_second,
            } => {
                let path = self.bar.message();
                let file = path.split(" (").next().unwrap_or_default().to_owned();
                self.bar.set_message(format!(
                    "{file} ({generated} tokens, {tokens_per_second:.1} tok/s)"
                ));
            }
            ProgressEvent::FileDone { .. } => {}
        }
    }
}
