//! nginx as the yardstick: one worker returning a fixed reply of the size of mcpd's echo
//! answer, same Content-Type, no access log, started from a generated config under target/.

use crate::procs::{self, Cpus};
use std::io;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long nginx gets to accept connections after it is spawned.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A running nginx: master and its one worker.
pub struct Nginx {
    master: Child,
    pub worker: u32,
    pub port: u16,
}

/// The nginx binary: `$NGINX`, then `nginx` on PATH, then /usr/sbin/nginx.
pub fn find() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NGINX") {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .chain([PathBuf::from("/usr/sbin")])
        .map(|dir| dir.join("nginx"))
        .find(|path| path.is_file())
}

impl Nginx {
    /// Writes `dir/nginx.conf` answering `path` with `body` and starts nginx on `cpus.server`.
    pub fn start(
        binary: &Path,
        dir: &Path,
        path: &str,
        body: &str,
        cpus: Cpus,
    ) -> io::Result<Nginx> {
        std::fs::create_dir_all(dir.join("tmp"))?;
        let port = procs::free_port()?;
        let dir_text = dir.display();
        let config = format!(
            "worker_processes 1;\n\
             daemon off;\n\
             pid {dir_text}/nginx.pid;\n\
             error_log {dir_text}/error.log warn;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n\
             \x20 access_log off;\n\
             \x20 keepalive_requests 1000000000;\n\
             \x20 keepalive_timeout 60s;\n\
             \x20 client_body_temp_path {dir_text}/tmp/body;\n\
             \x20 proxy_temp_path {dir_text}/tmp/proxy;\n\
             \x20 fastcgi_temp_path {dir_text}/tmp/fastcgi;\n\
             \x20 uwsgi_temp_path {dir_text}/tmp/uwsgi;\n\
             \x20 scgi_temp_path {dir_text}/tmp/scgi;\n\
             \x20 server {{\n\
             \x20   listen 127.0.0.1:{port};\n\
             \x20   location = {path} {{\n\
             \x20     default_type application/json;\n\
             \x20     return 200 '{body}';\n\
             \x20   }}\n\
             \x20 }}\n\
             }}\n"
        );
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config)?;
        let mut cmd = Command::new(binary);
        cmd.arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let (mut master, _) = procs::spawn_on(cpus.server, &mut cmd)?;
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = master.try_wait()? {
                let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
                return Err(io::Error::other(format!("nginx exited ({status}): {log}")));
            }
            let worker = procs::children_of(master.id()).first().copied();
            if let (Some(worker), Ok(_)) = (worker, TcpStream::connect(("127.0.0.1", port))) {
                return Ok(Nginx {
                    master,
                    worker,
                    port,
                });
            }
            if Instant::now() > deadline {
                procs::stop_child(&mut master);
                return Err(io::Error::other("nginx did not come up within 10 s"));
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGTERM to the master (it ends its worker), then reaped.
    pub fn stop(mut self) {
        procs::stop_child(&mut self.master);
    }
}
