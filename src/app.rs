//! The `mcpd` command line: flags and environment to a [`Config`], then serve until stopped.
//! The binary's `main` is this module's [`main`]; it lives in the library so the modules it
//! drives (flags, logging, the child environment) need not be public.

use crate::bridge::Bridge;
use crate::builtin::Builtin;
use crate::cli::{self, Command};
use crate::config::Config;
use crate::{event_loop, exec, log, sys};
use std::process::ExitCode;

/// The `mcpd` command: reads the process's arguments and environment, then serves until
/// stopped. Returns the exit status: 0, 1 on a runtime error, 2 on a usage error (`--help`
/// says which flags there are).
pub fn main() -> ExitCode {
    let command = match cli::parse(std::env::args().skip(1), |name| std::env::var(name).ok()) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("mcpd: {e}\ntry 'mcpd --help'");
            return ExitCode::from(2);
        }
    };
    let command = match command {
        Command::Serve(config) if config.exit_with_parent && sys::stop_with_parent().is_err() => {
            eprintln!("mcpd: --exit-with-parent: the process that started mcpd is already gone");
            return ExitCode::from(2);
        }
        Command::Serve(config) => match load_token(config).and_then(check_command) {
            Ok(config) => Command::Serve(config),
            Err(message) => {
                eprintln!("mcpd: {message}\ntry 'mcpd --help'");
                return ExitCode::from(2);
            }
        },
        other => other,
    };
    if matches!(command, Command::Serve(_) | Command::Stdio(_)) {
        // From here on logging never blocks: the event loop writes the buffered lines.
        log::init(std::env::var("JOURNAL_STREAM").ok().as_deref());
    }
    // Descriptors mcpd inherited without close-on-exec must not reach bridged children.
    if let Err(e) = sys::cloexec_inherited() {
        log::warn(format_args!("cannot list inherited descriptors: {e}"));
    }
    // The level and bounds from the config are set by `event_loop::run`/`run_stdio`
    // (`log::start`); nothing logs between here and there.
    let outcome = match command {
        Command::Help => {
            print!("{}", cli::help_text());
            return ExitCode::SUCCESS;
        }
        Command::Version => {
            println!("mcpd {}", cli::VERSION);
            return ExitCode::SUCCESS;
        }
        Command::Serve(config) if !config.bridge.command.is_empty() => {
            let bridge = Bridge::new(&config, std::time::Instant::now());
            event_loop::run(config, bridge)
        }
        Command::Serve(config) => {
            let builtin = Builtin::for_instance(config.instance_id.as_deref().unwrap_or_default());
            event_loop::run(config, builtin)
        }
        Command::Stdio(config) => event_loop::run_stdio(config, Builtin::new()),
    };
    let code = match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error(format_args!("{e}"));
            ExitCode::FAILURE
        }
    };
    // The last lines ("stopped", the error) get a bounded chance to reach stderr.
    log::finish(std::time::Duration::from_secs(2));
    code
}

/// Reads `--auth-token-file` into the config; a missing, empty or ambiguous token is a usage
/// error (exit 2), never a silently open server.
fn load_token(mut config: Config) -> Result<Config, String> {
    let Some(path) = &config.auth_token_file else {
        return Ok(config);
    };
    if config.auth_token.is_some() {
        return Err("give --auth-token or --auth-token-file, not both".into());
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read --auth-token-file {path:?}: {e}"))?;
    let token = text.lines().next().unwrap_or("").trim();
    if token.len() < 8 || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "--auth-token-file {path:?}: the first line must be at least 8 visible ASCII characters without spaces"
        ));
    }
    config.auth_token = Some(token.to_string());
    Ok(config)
}

/// Fails fast on a bridge command that cannot be run (exit 2 naming it), instead of at the
/// first `initialize`.
fn check_command(config: Config) -> Result<Config, String> {
    let path = std::env::var("PATH").ok();
    exec::resolve(&config.bridge, path.as_deref())?;
    Ok(config)
}
