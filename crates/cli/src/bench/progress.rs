//! The benches' progress bars: drawn on standard error while it is a terminal, and nowhere otherwise,
//! so that output redirected to a file or read by a test holds the report and nothing else.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often a bar is redrawn.
const REFRESH_PER_S: u8 = 4;

/// A bar of `total` steps with `template` (indicatif's), drawn only when standard error is a terminal.
pub fn bar(total: u64, template: &str) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(REFRESH_PER_S));
    let style = ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style.progress_chars("=> "));
    bar.enable_steady_tick(Duration::from_millis(1000 / u64::from(REFRESH_PER_S)));
    bar
}
