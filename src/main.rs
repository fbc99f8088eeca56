//! `mcpd`: the command line, all of it in [`mcpd::main`].

fn main() -> std::process::ExitCode {
    mcpd::main()
}
