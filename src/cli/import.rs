//! `portcullis import fba`: progress on a terminal, plain lines otherwise, a summary at the end.

use std::io::IsTerminal;

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};

use super::{tools, ImportCommand};
use crate::admin::{ImportProgress, ImportSummary};
use crate::config::{redact, Settings};
use crate::repo::fba::read_fba;

/// A bar when standard error is a terminal; otherwise a line per problem and one per 100 rows.
enum Progress {
    Bar(ProgressBar),
    Lines { done: u64, total: u64 },
}

impl ImportProgress for Progress {
    fn begin(&mut self, rows: u64) {
        match self {
            Progress::Bar(bar) => bar.set_length(rows),
            Progress::Lines { total, .. } => *total = rows,
        }
    }

    fn step(&mut self) {
        match self {
            Progress::Bar(bar) => bar.inc(1),
            Progress::Lines { done, total } => {
                *done += 1;
                if *done % 100 == 0 {
                    eprintln!("... {done} of {total} rows");
                }
            }
        }
    }

    fn report(&mut self, line: String) {
        match self {
            Progress::Bar(bar) => bar.println(line),
            Progress::Lines { .. } => eprintln!("{line}"),
        }
    }
}

pub async fn run(cmd: ImportCommand, settings: &Settings) -> anyhow::Result<()> {
    let ImportCommand::Fba {
        database_url,
        dry_run,
    } = cmd;
    let dump = read_fba(&database_url, settings.db_deadline())
        .await
        .with_context(|| format!("cannot read the fba database at {}", redact(&database_url)))?;
    eprintln!(
        "fba database: {} user(s), {} role(s), {} social binding(s)",
        dump.users.len(),
        dump.roles.len(),
        dump.socials.len()
    );
    let admin = tools(settings).await?.admin;
    let mut progress = if std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(0).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} rows {elapsed}")
                .expect("a valid template"),
        );
        Progress::Bar(bar)
    } else {
        Progress::Lines { done: 0, total: 0 }
    };
    let summary = admin.import_fba(&dump, dry_run, &mut progress).await?;
    if let Progress::Bar(bar) = &progress {
        bar.finish_and_clear();
    }
    print_summary(&summary, dry_run);
    anyhow::ensure!(
        summary.failed() == 0,
        "{} row(s) failed; fix them in fba (or here) and run the import again",
        summary.failed()
    );
    Ok(())
}

fn print_summary(s: &ImportSummary, dry_run: bool) {
    if dry_run {
        println!("dry run: nothing was written; a real run would give");
    }
    println!("users:    {}", s.users);
    println!("roles:    {}", s.roles);
    println!("bindings: {}", s.bindings);
}
