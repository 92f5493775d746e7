//! A closed-loop load generator: `concurrency` workers each send one request
//! at a time, so throughput and latency are measured together.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

#[derive(Clone, Copy)]
pub enum Limit {
    Time(Duration),
    Count(usize),
}

pub enum Req {
    Get(String),
    Post(String, serde_json::Value),
    /// A body serialised once, sent as JSON (not every binary uses it).
    #[allow(dead_code)]
    PostRaw(String, bytes::Bytes),
}

pub struct Report {
    pub name: String,
    /// Response bytes per second (downloads).
    pub bytes_per_sec: f64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub errors: usize,
}

pub async fn run_phase<F>(
    http: &reqwest::Client,
    token: &str,
    name: &str,
    concurrency: usize,
    limit: Limit,
    make: F,
) -> Report
where
    F: Fn(usize) -> Req + Send + Sync + 'static + Clone,
{
    let counter = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let bytes = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let bytes = bytes.clone();
        let (http, token, counter, errors, make) = (
            http.clone(),
            token.to_string(),
            counter.clone(),
            errors.clone(),
            make.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
            loop {
                let i = counter.fetch_add(1, Ordering::Relaxed);
                match limit {
                    Limit::Count(n) if i >= n => break,
                    Limit::Time(d) if start.elapsed() >= d => break,
                    _ => {}
                }
                let t = Instant::now();
                let res = match make(i) {
                    Req::Get(url) => http.get(url).bearer_auth(&token).send().await,
                    Req::Post(url, body) => http.post(url).bearer_auth(&token).json(&body).send().await,
                    Req::PostRaw(url, body) => {
                        http.post(url)
                            .bearer_auth(&token)
                            .header("content-type", "application/json")
                            .body(body)
                            .send()
                            .await
                    }
                };
                let ok = match res {
                    Ok(r) => {
                        let ok = r.status().is_success();
                        let mut r = r;
                        while let Ok(Some(chunk)) = r.chunk().await {
                            bytes.fetch_add(chunk.len() as u64, Ordering::Relaxed);
                        }
                        ok
                    }
                    Err(_) => false,
                };
                if !ok {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                let _ = hist.record(t.elapsed().as_micros().max(1) as u64);
            }
            hist
        }));
    }
    let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).expect("histogram bounds");
    for t in tasks {
        if let Ok(h) = t.await {
            let _ = hist.add(h);
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    Report {
        name: name.to_string(),
        bytes_per_sec: bytes.load(Ordering::Relaxed) as f64 / elapsed,
        rps: hist.len() as f64 / elapsed,
        p50_ms: hist.value_at_quantile(0.50) as f64 / 1000.0,
        p99_ms: hist.value_at_quantile(0.99) as f64 / 1000.0,
        max_ms: hist.max() as f64 / 1000.0,
        errors: errors.load(Ordering::Relaxed),
    }
}
