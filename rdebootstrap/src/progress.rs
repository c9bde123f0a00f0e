//! Progress on the terminal: bars (indicatif) when standard error is a
//! terminal, plain lines otherwise, nothing but errors with `-q`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use debrepo::progress::{Progress, Stage};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

enum Mode {
    Quiet,
    Plain,
    Bars(MultiProgress),
}

/// The command line's [`Progress`].
pub struct Terminal {
    mode: Mode,
    debug: bool,
    bars: Mutex<HashMap<String, (ProgressBar, u64)>>,
    /// The build's stages under way: items to go through, items done,
    /// and the bar drawn for them (on a terminal, for unpacking).
    stages: Mutex<HashMap<Stage, StageState>>,
}

/// A build stage under way: items to go through, items done, and its bar.
type StageState = (usize, usize, Option<ProgressBar>);

impl Terminal {
    /// Bars on a terminal, lines elsewhere, nothing when `quiet`; debug
    /// lines too with `debug`.
    pub fn new(quiet: bool, debug: bool) -> Terminal {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            Mode::Bars(MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
        } else {
            Mode::Plain
        };
        Terminal {
            mode,
            debug,
            bars: Mutex::default(),
            stages: Mutex::default(),
        }
    }

    fn line(&self, text: &str) {
        match &self.mode {
            Mode::Quiet => {}
            Mode::Plain => eprintln!("{text}"),
            Mode::Bars(m) => {
                let _ = m.println(text);
            }
        }
    }
}

impl Progress for Terminal {
    fn start(&self, what: &str, total: Option<u64>) {
        match &self.mode {
            Mode::Quiet => {}
            // One line per stage while building: the packages' downloads
            // are counted in the fetch stage's line.
            Mode::Plain
                if self
                    .stages
                    .lock()
                    .expect("stages")
                    .contains_key(&Stage::Fetch) => {}
            Mode::Plain => eprintln!("get {what}"),
            Mode::Bars(m) => {
                let bar = match total {
                    Some(n) => ProgressBar::new(n).with_style(
                        ProgressStyle::with_template(
                            "{bar:30} {bytes:>10}/{total_bytes:10} {wide_msg}",
                        )
                        .expect("valid template"),
                    ),
                    None => ProgressBar::new_spinner().with_style(
                        ProgressStyle::with_template("{spinner} {bytes:>10} {wide_msg}")
                            .expect("valid template"),
                    ),
                };
                let bar = m.add(bar.with_message(what.to_owned()));
                self.bars
                    .lock()
                    .expect("bars")
                    .insert(what.to_owned(), (bar, 0));
            }
        }
    }

    fn advance(&self, what: &str, bytes: u64) {
        if let Some((bar, n)) = self.bars.lock().expect("bars").get_mut(what) {
            bar.inc(bytes);
            *n += bytes;
        }
    }

    fn finish(&self, what: &str) {
        if let Some((bar, _)) = self.bars.lock().expect("bars").remove(what) {
            bar.finish_and_clear();
        }
    }

    fn retry(&self, what: &str, attempt: u32, reason: &str, delay: Duration) {
        self.line(&format!(
            "retry {attempt} of {what} in {delay:.1?}: {reason}"
        ));
    }

    fn warn(&self, message: &str) {
        self.line(&format!("warning: {message}"));
    }

    fn debug(&self, message: &str) {
        if self.debug {
            self.line(&format!("debug: {message}"));
        }
    }

    fn stage_start(&self, stage: Stage, items: usize) {
        if stage == Stage::Configure {
            // The essential set is configured while the rest is still
            // unpacked: its scripts write to the terminal from now on.
            if let Some((_, _, bar)) = self.stages.lock().expect("stages").get_mut(&Stage::Unpack) {
                if let Some(bar) = bar.take() {
                    bar.finish_and_clear();
                }
            }
        }
        let bar = match &self.mode {
            // Scripts write to the terminal while configuring: a bar would
            // be drawn through their lines.
            Mode::Bars(m) if stage == Stage::Unpack && items > 0 => Some(
                m.add(
                    ProgressBar::new(items as u64).with_style(
                        ProgressStyle::with_template("{prefix:>9} {bar:30} {pos}/{len} {wide_msg}")
                            .expect("valid template"),
                    ),
                )
                .with_prefix(stage.name()),
            ),
            _ => None,
        };
        self.stages
            .lock()
            .expect("stages")
            .insert(stage, (items, 0, bar));
    }

    fn stage_item(&self, stage: Stage, item: &str, took: Duration) {
        if let Some((_, done, bar)) = self.stages.lock().expect("stages").get_mut(&stage) {
            *done += 1;
            if let Some(bar) = bar {
                bar.inc(1);
                bar.set_message(item.to_owned());
            }
        }
        if self.debug {
            self.line(&format!("debug: {stage}: {item}: {took:.2?}"));
        }
    }

    fn stage_finish(&self, stage: Stage, took: Duration) {
        let Some((items, _, bar)) = self.stages.lock().expect("stages").remove(&stage) else {
            return;
        };
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        let what = match (stage, items) {
            (_, 0) => String::new(),
            (Stage::Configure | Stage::Fetch | Stage::Unpack | Stage::Database, n) => {
                format!(" {n} {}", if n == 1 { "package" } else { "packages" })
            }
            (Stage::Scripts, n) => format!(" {n} {}", if n == 1 { "script" } else { "scripts" }),
            (_, n) => format!(" {n} {}", if n == 1 { "item" } else { "items" }),
        };
        self.line(&format!("{:>9}{what} in {took:.1?}", stage.name()));
    }
}
