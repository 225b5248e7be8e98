//! The dashboard's tiny static file server: GET only, the site's files
//! from memory (compiled in with `include_bytes!`, so the binary serves
//! the site from any directory) and `/config.json`. HTTP/1.1, one request
//! per connection (`Connection: close`): enough for one person's browser.

use super::PageConfig;
use crate::error::{Error, Result};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The site (dashboard/public); `app.js` is the committed bundle
/// (`npm run build` in dashboard/).
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "/index.html",
        "text/html; charset=utf-8",
        include_bytes!("../../dashboard/public/index.html"),
    ),
    (
        "/app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../../dashboard/public/app.js"),
    ),
    (
        "/style.css",
        "text/css; charset=utf-8",
        include_bytes!("../../dashboard/public/style.css"),
    ),
];

/// A running server; dropping it stops it.
pub struct Server {
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Listens on `host:port` (0: any free port) and serves in the background.
pub async fn serve(host: &str, port: u16, config: PageConfig) -> Result<Server> {
    let listener = TcpListener::bind((host, port))
        .await
        .map_err(|e| Error::Config(format!("cannot listen on {host}:{port}: {e}")))?;
    let addr = listener
        .local_addr()
        .map_err(|e| Error::Config(format!("the listener has no address: {e}")))?;
    let config = Arc::new(
        serde_json::to_vec_pretty(&config)
            .map_err(|e| Error::Config(format!("encoding the config: {e}")))?,
    );
    let task = tokio::spawn(async move {
        while let Ok((conn, _)) = listener.accept().await {
            let config = Arc::clone(&config);
            tokio::spawn(async move {
                if let Err(e) = answer(conn, &config).await {
                    tracing::debug!(error = %e, "dashboard request failed");
                }
            });
        }
    });
    Ok(Server { addr, task })
}

async fn answer(mut conn: TcpStream, config: &[u8]) -> std::io::Result<()> {
    let mut buf = vec![0u8; 8192];
    let mut len = 0;
    // The request line and headers; a body (there is none for GET) is ignored.
    while !buf[..len].windows(4).any(|w| w == b"\r\n\r\n") && len < buf.len() {
        let n = conn.read(&mut buf[len..]).await?;
        if n == 0 {
            break;
        }
        len += n;
    }
    let head = String::from_utf8_lossy(&buf[..len]);
    let mut parts = head.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let (status, kind, body): (&str, &str, &[u8]) = match (method, path) {
        ("GET" | "HEAD", "/config.json") => ("200 OK", "application/json", config),
        ("GET" | "HEAD", p) => {
            let p = if p == "/" { "/index.html" } else { p };
            match FILES.iter().find(|(name, _, _)| *name == p) {
                Some((_, kind, body)) => ("200 OK", kind, body),
                None => ("404 Not Found", "text/plain", b"not found\n"),
            }
        }
        _ => ("405 Method Not Allowed", "text/plain", b"GET only\n"),
    };
    let header = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Cache-Control: no-cache\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n",
        body.len()
    );
    conn.write_all(header.as_bytes()).await?;
    if method != "HEAD" {
        conn.write_all(body).await?;
    }
    conn.shutdown().await
}
