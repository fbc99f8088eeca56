//! `--auth-token`: every MCP route needs `Authorization: Bearer <token>`; 401 with a challenge
//! otherwise; `/health` too unless `--public-health`; preflights pass; the token file works.

mod common;

use common::http::{get, post, request, INITIALIZE};
use common::{fresh_dir, mcpd_bin, spawn_mcpd};
use std::process::Command;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(3);
const TOKEN: &str = "test-token-0123456789";

fn initialize(port: u16, auth: Option<&str>) -> common::http::Response {
    let auth: Vec<(&str, &str)> = auth.map(|a| ("Authorization", a)).into_iter().collect();
    post(port, "/mcp", &auth, INITIALIZE.as_bytes(), WAIT)
}

#[test]
fn mcp_routes_need_the_bearer_token() {
    let server = spawn_mcpd(&["--auth-token", TOKEN]);
    let missing = initialize(server.port, None);
    assert_eq!(missing.status, 401);
    assert_eq!(
        missing.header("www-authenticate"),
        Some("Bearer realm=\"mcpd\"")
    );
    let wrong = initialize(server.port, Some("Bearer not-the-token"));
    assert_eq!(wrong.status, 401);
    assert!(wrong
        .header("www-authenticate")
        .unwrap()
        .contains("invalid_token"));
    assert_eq!(
        initialize(server.port, Some("Basic dXNlcjpwYXNz")).status,
        401
    );
    let good = initialize(server.port, Some(&format!("Bearer {TOKEN}")));
    assert_eq!(good.status, 200, "{}", good.text());
    assert_eq!(
        initialize(server.port, Some(&format!("bearer {TOKEN}"))).status,
        200,
        "scheme is case-insensitive"
    );
    for path in ["/sse", "/messages?sessionId=x", "/mcp/sessions/x"] {
        let method = if path.starts_with("/sse") {
            "GET"
        } else if path.contains("sessions") {
            "DELETE"
        } else {
            "POST"
        };
        assert_eq!(
            request(server.port, method, path, &[], b"", WAIT).status,
            401,
            "{method} {path}"
        );
    }
    for probe in ["/health", "/metrics"] {
        assert_eq!(get(server.port, probe, WAIT).status, 401, "{probe}");
    }
    let auth = format!("Bearer {TOKEN}");
    assert_eq!(
        request(
            server.port,
            "GET",
            "/health",
            &[("Authorization", &auth)],
            b"",
            WAIT
        )
        .status,
        200
    );
    assert!(
        !server.stderr().contains(TOKEN),
        "the token is never logged"
    );
}

#[test]
fn public_health_and_preflight_need_no_token() {
    let server = spawn_mcpd(&[
        "--auth-token",
        TOKEN,
        "--public-health",
        "--cors-origin",
        "http://app.example",
    ]);
    for probe in ["/health", "/metrics"] {
        assert_eq!(get(server.port, probe, WAIT).status, 200, "{probe}");
    }
    assert_eq!(
        request(server.port, "POST", "/metrics", &[], b"", WAIT).status,
        405
    );
    let preflight = [
        ("Origin", "http://app.example"),
        ("Access-Control-Request-Method", "POST"),
    ];
    assert_eq!(
        request(server.port, "OPTIONS", "/mcp", &preflight, b"", WAIT).status,
        204
    );
}

#[test]
fn token_file_is_read_and_bad_files_exit_2() {
    let dir = fresh_dir("auth", "token-file");
    let file = dir.join("token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let server = spawn_mcpd(&["--auth-token-file", file.to_str().unwrap()]);
    assert_eq!(initialize(server.port, None).status, 401);
    assert_eq!(
        initialize(server.port, Some(&format!("Bearer {TOKEN}"))).status,
        200
    );
    std::fs::write(dir.join("weak"), "short\n").unwrap();
    for args in [
        vec!["--auth-token-file", "/nonexistent/mcpd-token"],
        vec!["--auth-token-file", dir.join("weak").to_str().unwrap()],
        vec![
            "--auth-token",
            TOKEN,
            "--auth-token-file",
            file.to_str().unwrap(),
        ],
    ] {
        let out = Command::new(mcpd_bin())
            .args(&args)
            .args(["--port", "0"])
            .output()
            .unwrap();
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("auth-token"),
            "{args:?}"
        );
    }
}
