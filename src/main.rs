//! `mcpd`: flags and environment to a [`Config`], then serve until stopped.

use mcpd::builtin::Builtin;
use mcpd::cli::{self, Command};
use mcpd::{event_loop, log};
use std::process::ExitCode;

fn main() -> ExitCode {
    let command = match cli::parse(std::env::args().skip(1), |name| std::env::var(name).ok()) {
        Ok(command) => command,
        Err(e) => {
            eprintln!("mcpd: {e}\ntry 'mcpd --help'");
            return ExitCode::from(2);
        }
    };
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
            log::set_level(config.log_level);
            event_loop::run_bridge(config)
        }
        Command::Serve(config) => {
            log::set_level(config.log_level);
            event_loop::run(config, Box::new(Builtin::new()))
        }
        Command::Stdio(config) => {
            log::set_level(config.log_level);
            event_loop::stdio::run(config, Box::new(Builtin::new()))
        }
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error(format_args!("{e}"));
            ExitCode::FAILURE
        }
    }
}
