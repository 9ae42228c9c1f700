//! A TCP proxy for the fault tests, between a node and Redis or PostgreSQL. It passes bytes,
//! goes silent (connections stay open, no byte crosses, in either direction), refuses new
//! connections, or resets the ones it has.

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Pass,
    /// Open connections, no bytes: a stalled database, a link gone quiet.
    Silent,
    /// New connections are closed at once: a stopped server.
    Refuse,
}

pub struct Proxy {
    pub port: u16,
    mode: watch::Sender<Mode>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.reset();
    }
}

/// Copies one direction, holding still while the proxy is silent.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        if mode.wait_for(|m| *m != Mode::Silent).await.is_err() {
            return;
        }
        let n = tokio::select! {
            r = from.read(&mut buf) => match r { Ok(0) | Err(_) => return, Ok(n) => n },
            // Gone silent while waiting to read: wait again before reading anything.
            _ = mode.wait_for(|m| *m == Mode::Silent) => continue,
        };
        // What was read before the silence is held until the proxy passes again.
        if mode.wait_for(|m| *m != Mode::Silent).await.is_err() {
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

impl Proxy {
    pub async fn start(target: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (mode, _) = watch::channel(Mode::Pass);
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (tx, tracked) = (mode.clone(), conns.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                if *tx.borrow() == Mode::Refuse {
                    drop(client);
                    continue;
                }
                let rx = tx.subscribe();
                let handle = tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else {
                        return;
                    };
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    let up = tokio::spawn(pump(cr, sw, rx.clone()));
                    let down = tokio::spawn(pump(sr, cw, rx));
                    let (a, b) = (up.abort_handle(), down.abort_handle());
                    // Either side ending ends both; aborting this task aborts both too.
                    struct Both(tokio::task::AbortHandle, tokio::task::AbortHandle);
                    impl Drop for Both {
                        fn drop(&mut self) {
                            self.0.abort();
                            self.1.abort();
                        }
                    }
                    let _both = Both(a, b);
                    tokio::select! { _ = up => {}, _ = down => {} }
                });
                tracked.lock().unwrap().push(handle);
            }
        });
        Self {
            port,
            mode,
            conns,
            accept,
        }
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Closes every connection it holds (their sockets drop with their tasks).
    pub fn reset(&self) {
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }
}
