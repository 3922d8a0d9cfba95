//! The progress display on stderr: an indicatif bar with the file, its role and tokens/s, and
//! a line above it for each model event. It draws only when stderr is a terminal (indicatif's
//! rule), so logs and CI output stay clean; the per-file summary is printed separately.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use codey::engine::{Progress, ProgressEvent};
use codey::lifecycle::Event;

/// The bar; clones draw on the same bar.
#[derive(Clone)]
pub struct Bar {
    bar: ProgressBar,
    /// The file being edited, so token updates can keep it in the message.
    file: String,
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
            ProgressStyle::with_template("{spinner} [{pos}/{len}] {prefix:9} {wide_msg} {elapsed}")
        {
            bar.set_style(style);
        }
        if enabled {
            // Keeps the spinner and clock moving through long prompt processing.
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
        }
        Bar {
            bar,
            file: String::new(),
        }
    }

    /// Shows a lifecycle event as a line above the bar.
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
        self.bar.println(line);
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
                self.file = path.to_owned();
                self.bar.set_length(total as u64);
                self.bar.set_position(index as u64);
                self.bar.set_prefix(role.name());
                self.bar.set_message(format!("{path} (reading)"));
            }
            ProgressEvent::Tokens {
                generated,
                tokens_per_second,
            } => {
                self.bar.set_message(format!(
                    "{} ({generated} tokens, {tokens_per_second:.1} tok/s)",
                    self.file
                ));
            }
            ProgressEvent::FileDone { .. } => self.bar.inc(0),
        }
    }
}
