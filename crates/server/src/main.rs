use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use rocket_config::{Config, Driver, Source};

/// Rocket: a metadata-driven backend engine.
#[derive(Parser)]
#[command(version, about)]
struct Args {
    /// Path to app.yaml (default: ./app.yaml when present, else built-in defaults).
    #[arg(long, short)]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let (config, source) = match Config::load(args.config.as_deref()) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rocket: {e}");
            return ExitCode::from(2);
        }
    };
    let store = match config.database.driver {
        Driver::Sqlite => format!("sqlite (files under {})", config.database.path.display()),
        Driver::Postgres => match &config.database.url {
            Some(_) => "postgres (DATABASE_URL)".to_string(),
            None => format!("postgres ({}:{})", config.database.host, config.database.port),
        },
    };
    let files = match config.storage.driver.as_str() {
        "s3" => format!(
            "s3 (bucket {}{})",
            config.storage.s3.bucket,
            if config.storage.s3.endpoint.is_empty() {
                String::new()
            } else {
                format!(" at {}", config.storage.s3.endpoint)
            }
        ),
        _ => format!("local (under {})", config.storage.local_path.display()),
    };
    let queue = match config.queue.driver_for(config.database.driver) {
        "memory" => "memory (not durable: a restart loses queued jobs)".to_string(),
        d @ ("sqlite" | "postgres") => format!("{d} (jobs in each app's database)"),
        d => format!("{d} (outbox in each app's database)"),
    };
    let m = &config.metrics;
    let metrics = match (m.listen.is_empty(), m.token.is_empty()) {
        (false, true) => "GET /metrics on the metrics listener".to_string(),
        (false, false) => "GET /metrics on the metrics listener, bearer token required".to_string(),
        (true, false) => "GET /metrics, bearer token required".to_string(),
        (true, true) if m.public => "GET /metrics, open to anyone (metrics.public)".to_string(),
        (true, true) => "not served (set metrics.token or metrics.listen)".to_string(),
    };
    let server = match rocket_server::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("rocket: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let from = match source {
        Source::File(p) => format!("config {}", p.display()),
        Source::Defaults => "built-in defaults (no app.yaml)".to_string(),
    };
    println!("Rocket listening on http://{}", server.addr);
    println!("  store:    {store}");
    println!("  files:    {files}");
    println!("  queue:    {queue}");
    println!("  config:   {from}");
    match server.metrics_addr {
        Some(a) => println!("  metrics:  {metrics} (http://{a})"),
        None => println!("  metrics:  {metrics}"),
    }
    println!(
        "  platform: {} / {} (seeded on first start; change it)",
        rocket_apps::PLATFORM_EMAIL,
        rocket_apps::SEED_PASSWORD
    );
    println!(
        "  apps:     each new app seeds {} / {}",
        rocket_apps::APP_ADMIN_EMAIL,
        rocket_apps::SEED_PASSWORD
    );
    server.run_until_signal().await;
    ExitCode::SUCCESS
}
