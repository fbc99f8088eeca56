//! What a bridged child is started with, decided before it starts: the program found at
//! startup (so a typo is exit status 2 at once, not an error at the first `initialize`) and the
//! environment it inherits (mcpd's own `MCPD_*` settings, the auth token among them, never
//! reach a third-party server).
//!
//! Not here: starting the process (the event loop) or closing descriptors in it (`sys`).

use crate::config::BridgeConfig;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Prefix of mcpd's own variables; none of them is passed to a child.
pub const OWN_PREFIX: &str = "MCPD_";

/// The names among `vars` that a child must not inherit: every `MCPD_*` variable, unless
/// `--env` sets it again explicitly (then the `--env` value is what the child sees).
pub fn scrubbed<'a>(
    vars: impl IntoIterator<Item = &'a str>,
    added: &'a [(String, String)],
) -> Vec<&'a str> {
    vars.into_iter()
        .filter(|name| name.starts_with(OWN_PREFIX))
        .filter(|name| !added.iter().any(|(k, _)| k == name))
        .collect()
}

/// Finds the program `bridge` would run, as `execvp` does: a name with a `/` is a path
/// (relative to `--cwd` when given), any other name is looked up in `PATH` (the `--env PATH=`
/// value if given, else `path_var`). With `--shell` the command is a shell script and is not
/// checked. The error names the program and says what is wrong with it.
pub fn resolve(bridge: &BridgeConfig, path_var: Option<&str>) -> Result<Option<PathBuf>, String> {
    if bridge.shell {
        return Ok(None);
    }
    let Some(program) = bridge.command.first() else {
        return Ok(None);
    };
    let shown = program.escape_debug();
    if program.contains('/') {
        let path = match Path::new(program) {
            p if p.is_relative() => match &bridge.cwd {
                Some(cwd) => cwd.join(p),
                None => p.to_path_buf(),
            },
            p => p.to_path_buf(),
        };
        return match executable(&path) {
            Ok(()) => Ok(Some(path)),
            Err(why) => Err(format!("cannot run the bridge command '{shown}': {why}")),
        };
    }
    let override_path = bridge
        .env
        .iter()
        .filter(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .next_back();
    let search = override_path
        .or(path_var)
        .unwrap_or("/usr/local/bin:/usr/bin:/bin");
    let mut seen = None;
    for dir in search.split(':') {
        // An empty entry is the working directory (POSIX execvp).
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(program);
        match executable(&candidate) {
            Ok(()) => return Ok(Some(candidate)),
            Err(why) if candidate.exists() => seen = Some((candidate, why)),
            Err(_) => {}
        }
    }
    Err(match seen {
        Some((path, why)) => format!(
            "cannot run the bridge command '{shown}': {} {why}",
            path.display()
        ),
        None => format!(
            "cannot run the bridge command '{shown}': not found in PATH ({search}); \
             give its full path, or --shell for a shell command line"
        ),
    })
}

/// Whether `path` is a file some execute bit allows (what `exec` would need besides rights we
/// cannot check without trying).
fn executable(path: &Path) -> Result<(), &'static str> {
    match std::fs::metadata(path) {
        Err(_) => Err("no such file"),
        Ok(meta) if meta.is_dir() => Err("is a directory"),
        Ok(meta) if meta.permissions().mode() & 0o111 == 0 => Err("is not executable"),
        Ok(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bridge(command: &[&str]) -> BridgeConfig {
        BridgeConfig {
            command: command.iter().map(|s| s.to_string()).collect(),
            ..BridgeConfig::default()
        }
    }

    #[test]
    fn own_variables_are_scrubbed_unless_set_again() {
        let vars = ["HOME", "MCPD_AUTH_TOKEN", "MCPD_PORT", "XMCPD_KEEP", "PATH"];
        let added = vec![("MCPD_PORT".to_string(), "9".to_string())];
        assert_eq!(scrubbed(vars, &added), vec!["MCPD_AUTH_TOKEN"]);
        assert_eq!(scrubbed(vars, &[]), vec!["MCPD_AUTH_TOKEN", "MCPD_PORT"]);
    }

    #[test]
    fn programs_are_found_in_path_or_named_with_why() {
        let found = resolve(
            &bridge(&["sh", "-c", "true"]),
            Some("/nonexistent:/bin:/usr/bin"),
        );
        assert!(matches!(found, Ok(Some(p)) if p.ends_with("sh")));
        let missing = resolve(&bridge(&["no-such-mcp-server"]), Some("/bin")).unwrap_err();
        assert!(missing.contains("'no-such-mcp-server'") && missing.contains("not found in PATH"));
        let absent = resolve(&bridge(&["/nonexistent/server"]), None).unwrap_err();
        assert!(absent.contains("no such file"), "{absent}");
        let dir = resolve(&bridge(&["/tmp/"]), None).unwrap_err();
        assert!(dir.contains("is a directory"), "{dir}");
        let text = resolve(&bridge(&["/etc/passwd"]), None);
        assert!(matches!(text, Err(e) if e.contains("is not executable")));
        let mut shell = bridge(&["no-such-mcp-server", "--flag"]);
        shell.shell = true;
        assert_eq!(
            resolve(&shell, Some("/bin")),
            Ok(None),
            "a shell line is not checked"
        );
        let mut with_path = bridge(&["sh"]);
        with_path.env = vec![("PATH".into(), "/nonexistent".into())];
        assert!(
            resolve(&with_path, Some("/bin")).is_err(),
            "--env PATH wins"
        );
        let mut relative = bridge(&["./sh"]);
        relative.cwd = Some("/bin".into());
        assert!(resolve(&relative, None).is_ok(), "relative to --cwd");
    }
}
