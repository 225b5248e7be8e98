//! A loopback TCP proxy in front of the emulator that can lose answers:
//! the way to make a write land on the server while its client never hears
//! back, which no freeze can do (the emulator drops calls that were
//! cancelled while it was stopped).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    /// `host:port` to point a client at.
    pub host: String,
    mute: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
}

impl Proxy {
    /// Starts forwarding to `upstream` (`host:port`) on a free port.
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("loopback has free ports");
        let host = listener
            .local_addr()
            .expect("a bound listener has an address")
            .to_string();
        let mute = Arc::new(AtomicBool::new(false));
        let (cut, _) = watch::channel(0u64);
        let (upstream, mute2, cut2) = (upstream.to_string(), mute.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(&upstream).await else {
                    continue;
                };
                tokio::spawn(pipe(client, server, mute2.clone(), cut2.subscribe()));
            }
        });
        Proxy { host, mute, cut }
    }

    /// From now on, the server's bytes are thrown away: requests still
    /// reach it, answers never come back.
    pub fn mute(&self) {
        self.mute.store(true, Ordering::SeqCst);
    }

    /// Closes every open connection (the client sees a transport error)
    /// and lets new ones through, unmuted.
    pub fn cut(&self) {
        self.mute.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }
}

async fn pipe(
    mut client: TcpStream,
    mut server: TcpStream,
    mute: Arc<AtomicBool>,
    mut cut: watch::Receiver<u64>,
) {
    let (mut cr, mut cw) = client.split();
    let (mut sr, mut sw) = server.split();
    let (mut up, mut down) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        tokio::select! {
            _ = cut.changed() => return,
            n = cr.read(&mut up) => match n {
                Ok(0) | Err(_) => return,
                Ok(n) => if sw.write_all(&up[..n]).await.is_err() { return },
            },
            n = sr.read(&mut down) => match n {
                Ok(0) | Err(_) => return,
                Ok(_) if mute.load(Ordering::SeqCst) => {}
                Ok(n) => if cw.write_all(&down[..n]).await.is_err() { return },
            },
        }
    }
}
