//! The `shipdeck` binary: parse the command line and hand over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    let args = shipdeck::cli::Cli::parse();
    // Warnings and errors go to the state dir's shipdeck.log, never to the screen.
    shipdeck::diagnostics::init(&shipdeck::paths::state_dir());
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("shipdeck: cannot start the async runtime: {e}");
            return std::process::ExitCode::from(1);
        }
    };
    let code = runtime.block_on(shipdeck::cli::run(args));
    // Log streams and probes may still be in flight; don't wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    std::process::ExitCode::from(code)
}
