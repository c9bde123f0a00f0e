//! Progress on the terminal: bars (indicatif) when standard error is a
//! terminal, plain lines otherwise, nothing but errors with `-q`.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use debrepo::progress::Progress;
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
}

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
}
