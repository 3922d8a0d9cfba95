//! Progress on stderr: on a terminal an indicatif bar with the file, its role and tokens/s and
//! a line above it for each model event; elsewhere (CI logs, `2>log`) plain lines as they
//! happen, as cargo does, so a log shows where a long run is; with `--no-progress` or
//! `--quiet`, nothing. The per-file summary is printed separately.

use std::cell::RefCell;
use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use codey::event::{Event, ModelEvent, Progress};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Show {
    Nothing,
    /// A redrawn bar (stderr is a terminal).
    Bar,
    /// One line per model event and per file started and finished.
    Lines,
}

impl Show {
    /// What fits where stderr goes.
    pub fn choose(enabled: bool) -> Show {
        match (enabled, std::io::stderr().is_terminal()) {
            (false, _) => Show::Nothing,
            (true, true) => Show::Bar,
            (true, false) => Show::Lines,
        }
    }
}

/// The progress display of an editing run.
pub struct Bar {
    bar: ProgressBar,
    show: Show,
    /// The file being edited, so token updates can keep it in the message.
    file: RefCell<String>,
}

impl Bar {
    pub fn new(show: Show) -> Self {
        let target = if show == Show::Bar {
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
        if show == Show::Bar {
            // Keeps the spinner and clock moving through long prompt processing.
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
        }
        Bar {
            bar,
            show,
            file: RefCell::new(String::new()),
        }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    /// The event as a plain line, for logs; None for events too frequent to log.
    fn line(event: &Event) -> Option<String> {
        Some(match event {
            Event::Routing { files } => format!("routing {files} file(s)"),
            Event::FileStart {
                path,
                role,
                index,
                total,
            } => format!(
                "editing {path} with the {role} model [{}/{total}]",
                index + 1
            ),
            Event::FileDone { path, outcome } => format!("finished {path}: {outcome}"),
            Event::Model(e) => model_line(e),
            Event::Bench { step } => format!("bench: {step}"),
            // `codey models fetch` renders its own steps.
            Event::Routed { .. } | Event::Tokens { .. } | Event::Fetch { .. } => return None,
        })
    }

    fn draw(&self, event: &Event) {
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
            Event::Fetch { .. } => {}
        }
    }
}

/// A model event as one line.
fn model_line(event: &ModelEvent) -> String {
    match event {
        ModelEvent::Load { role, estimated_mb } => {
            format!("loading {role} model (estimated {estimated_mb} MB)")
        }
        ModelEvent::Connect {
            role,
            endpoint,
            model,
            slots,
        } => format!("{role} model on {endpoint}: {model} ({slots} slot(s))"),
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
        match self.show {
            Show::Nothing => {}
            Show::Bar => self.draw(event),
            Show::Lines => {
                if let Some(line) = Self::line(event) {
                    eprintln!("{line}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use codey::config::Role;

    #[test]
    fn log_lines_number_files_from_one_and_leave_out_token_counts() {
        let start = Event::FileStart {
            path: "a.py".into(),
            role: Role::Coder,
            index: 0,
            total: 2,
        };
        assert_eq!(
            Bar::line(&start).as_deref(),
            Some("editing a.py with the coder model [1/2]")
        );
        let tokens = Event::Tokens {
            generated: 3,
            tokens_per_second: 1.0,
        };
        assert_eq!(Bar::line(&tokens), None);
    }
}
