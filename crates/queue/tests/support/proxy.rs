//! A TCP proxy for fault tests: forwards to an upstream service and can cut
//! every connection at once (and drop new ones) until restored. It only
//! ever listens on and connects to loopback addresses given by the test.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

pub struct Proxy {
    /// `127.0.0.1:port` to connect to instead of the upstream.
    pub addr: std::net::SocketAddr,
    cut: Arc<AtomicBool>,
    live: Arc<Mutex<Vec<AbortHandle>>>,
    accept: AbortHandle,
    closed: AtomicUsize,
    refused: Arc<AtomicUsize>,
}

impl Proxy {
    pub async fn start(upstream: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let cut = Arc::new(AtomicBool::new(false));
        let live: Arc<Mutex<Vec<AbortHandle>>> = Arc::new(Mutex::new(Vec::new()));
        let upstream = upstream.to_string();
        let refused = Arc::new(AtomicUsize::new(0));
        let (c, l, r) = (cut.clone(), live.clone(), refused.clone());
        let accept = tokio::spawn(async move {
            loop {
                let Ok((mut client, _)) = listener.accept().await else {
                    continue;
                };
                if c.load(Ordering::SeqCst) {
                    drop(client); // cut: new connections are dropped at once
                    r.fetch_add(1, Ordering::SeqCst);
                    continue;
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                let mut live = l.lock().expect("lock");
                live.retain(|h| !h.is_finished());
                live.push(task.abort_handle());
            }
        })
        .abort_handle();
        Proxy {
            addr,
            cut,
            live,
            accept,
            closed: AtomicUsize::new(0),
            refused,
        }
    }

    /// Closes every open connection and drops new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for h in self.live.lock().expect("lock").drain(..) {
            if !h.is_finished() {
                self.closed.fetch_add(1, Ordering::SeqCst);
            }
            h.abort();
        }
    }

    /// (open connections closed by cuts, connections dropped while cut).
    pub fn faults(&self) -> (usize, usize) {
        (
            self.closed.load(Ordering::SeqCst),
            self.refused.load(Ordering::SeqCst),
        )
    }

    pub fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for h in self.live.lock().expect("lock").drain(..) {
            h.abort();
        }
    }
}
