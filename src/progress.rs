//! The progress display on stderr: an indicatif bar with the file, its role and tokens/s, and
//! a line above it for each model event. It draws only when stderr is a terminal (indicatif's
//! rule), so logs and CI output stay clean; the per-file summary is printed separately.

use std::cell::RefCell;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use codey::event::{Event, ModelEvent, Progress};

/// The bar.
pub struct Bar {
    bar: ProgressBar,
    /// The file being edited, so token updates can keep it in the message.
    file: RefCell<String>,
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
            file: RefCell::new(String::new()),
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// A model event as one line.
fn model_line(event: &ModelEvent) -> String {
    match event {
        ModelEvent::Load { role, estimated_mb } => {
            format!("loading {role} model (estimated {estimated_mb} MB)")
        }
        ModelEvent::Evict { role, for_role } => {
            format!("evicting {role} model to make room for {for_role}")
        }
        ModelEvent::IdleUnload { role, idle_seconds } => {
            format!("unloading {role} model after {idle_seconds}s idle")
        }
        ModelEvent::Unload { role } => format!("unloading {role} model"),
    }
}

impl Progress for Bar {
    fn event(&self, event: &Event) {
        match event {
            Event::Routing { files } => {
                self.bar.set_length(*files as u64);
                self.bar.set_prefix("routing");
            }
            Event::Routed { path, .. } => {
                self.bar.inc(1);
                self.bar.set_message(path.clone());
            }
            Event::FileStart {
                path,
                role,
                index,
                total,
            } => {
                path.clone_into(&mut self.file.borrow_mut());
                self.bar.set_length(*total as u64);
                self.bar.set_position(*index as u64);
                self.bar.set_prefix(role.name());
                self.bar.set_message(format!("{path} (reading)"));
            }
            Event::Tokens {
                generated,
                tokens_per_second,
            } => {
                self.bar.set_message(format!(
                    "{} ({generated} tokens, {tokens_per_second:.1} tok/s)",
                    self.file.borrow()
                ));
            }
            Event::FileDone { .. } => self.bar.inc(0),
            Event::Model(e) => self.bar.println(model_line(e)),
            Event::Bench { step } => self.bar.println(format!("bench: {step}")),
        }
    }
}
