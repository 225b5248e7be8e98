//! Reading one HTTP/1.1 request off a socket, for the local servers that
//! stand in for webhook receivers and GitHub.

use tokio::io::AsyncReadExt;

/// One request: its head (request line and headers) and its body, read to
/// its Content-Length. `None` when the peer closes before a whole head.
pub async fn read_request(conn: &mut tokio::net::TcpStream) -> Option<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length: usize = header(&head, "content-length").parse().unwrap_or(0);
    while buf.len() < head_end + length {
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some((head, buf.split_off(head_end)))
}

/// A header's value in a request head (case-insensitive), or "".
pub fn header(head: &str, name: &str) -> String {
    head.lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_string())
        })
        .unwrap_or_default()
}

/// A 2048-bit RSA private key (PKCS#8 PEM) made with openssl at `path`,
/// and its public key (PEM); `None` without openssl.
pub fn rsa_key(path: &std::path::Path) -> Option<String> {
    let ok = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
        ])
        .arg(path)
        .output()
        .ok()?
        .status
        .success();
    if !ok {
        return None;
    }
    let public = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(path)
        .output()
        .ok()?;
    String::from_utf8(public.stdout).ok()
}
