//! `refuge`: the command-line tool over refuge-app.

// glibc's malloc fragments badly under a large import or demo (millions of short-lived
// strings and records): mimalloc halves the import time of 100,000 people (bench/README.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Writes a line to standard output, returning the error (a closed pipe, a full disk)
/// instead of panicking as `println!` does.
/// Control characters in what is printed are shown as escapes (`output::for_terminal`).
macro_rules! outln {
    () => {
        std::io::Write::write_all(&mut std::io::stdout(), b"\n")?
    };
    ($($arg:tt)*) => {
        std::io::Write::write_all(
            &mut std::io::stdout(),
            $crate::output::for_terminal(&format!("{}\n", format_args!($($arg)*))).as_bytes(),
        )?
    };
}

/// `outln!` without the newline.
macro_rules! out {
    ($($arg:tt)*) => {
        std::io::Write::write_all(
            &mut std::io::stdout(),
            $crate::output::for_terminal(&format!($($arg)*)).as_bytes(),
        )?
    };
}

mod args;
mod commands;
mod config;
mod output;
mod output_file;
mod secrets;

use clap::Parser;
use refuge_app::{AppError, ErrorKind};
use std::io::IsTerminal;

fn main() -> std::process::ExitCode {
    let cli = args::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("REFUGE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            let code = exit_code(&error);
            // A reader that stops early (`refuge log | head`) is not an error: leave quietly.
            if code != CLOSED_PIPE {
                eprintln!("error: {}", output::for_terminal(&format!("{error:#}")));
            }
            std::process::ExitCode::from(code)
        }
    }
}

/// What a shell sees when a writer's reader went away (128 + SIGPIPE).
const CLOSED_PIPE: u8 = 141;

/// The one mapping from a failure to an exit status: by the kind of a use case's error
/// (sysexits.h numbers), 141 for a closed pipe, 1 for anything else.
fn exit_code(error: &anyhow::Error) -> u8 {
    let closed_pipe = error.chain().any(|cause| {
        let io = cause.downcast_ref::<std::io::Error>().or_else(|| {
            cause.downcast_ref::<AppError>().and_then(|app| match app {
                AppError::Output(io) => Some(io),
                _ => None,
            })
        });
        io.is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    });
    if closed_pipe {
        return CLOSED_PIPE;
    }
    match error.downcast_ref::<AppError>().map(AppError::kind) {
        Some(ErrorKind::Invalid) => 65,
        Some(ErrorKind::NotFound) => 66,
        Some(ErrorKind::Conflict | ErrorKind::Duplicate | ErrorKind::Busy) => 75,
        Some(ErrorKind::Unauthenticated | ErrorKind::Forbidden) => 77,
        Some(ErrorKind::Internal) => 70,
        None => 1,
    }
}

/// Whether standard input is a terminal (for prompts).
pub(crate) fn interactive() -> bool {
    std::io::stdin().is_terminal()
}
