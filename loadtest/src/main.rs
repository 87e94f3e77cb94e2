//! `autocache-loadtest`: parses the flags and hands the run to the library. Exit codes: 0 ok,
//! 1 the run failed or `--verify` found anomalies, 2 bad arguments or unreachable target.

use autocache_loadtest::args::Args;
use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match Args::try_parse() {
        Ok(a) => a,
        Err(e) if e.use_stderr() => return fail(&first_line(&e.to_string()), 2),
        Err(e) => {
            // --help / --version
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    let json = args.json.clone();
    let cfg = match args.into_config() {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string(), e.exit_code()),
    };
    let report = match autocache_loadtest::run_blocking(&cfg) {
        Ok(r) => r,
        Err(e) => return fail(&e.to_string(), e.exit_code()),
    };
    print!("{}", report.table());
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report).expect("report serializes");
        if let Err(e) = std::fs::write(&path, text + "\n") {
            return fail(&format!("writing {}: {e}", path.display()), 1);
        }
    }
    match report.verify {
        Some(v) if v.failures() > 0 => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    }
}

fn fail(msg: &str, code: u8) -> ExitCode {
    eprintln!("autocache-loadtest: {msg}");
    ExitCode::from(code)
}

/// clap's first line (`error: …`), without the usage block that follows.
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or("invalid arguments");
    format!("{} (see --help)", line.trim_start_matches("error: "))
}
