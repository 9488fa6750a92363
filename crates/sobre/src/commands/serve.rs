//! `sobre serve MODEL`: the OpenAI- and Ollama-compatible HTTP server. The
//! model loads before the socket opens, so a client that connects finds it
//! ready; SIGTERM or Ctrl-C lets the requests in flight finish, then exits.

use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use energy::Carbon;
use engine::{Engine, EngineConfig};
use server::{AppState, ServerOptions};

use crate::cli::ServeArgs;

pub fn run(args: &ServeArgs) -> anyhow::Result<()> {
    init_logging();
    let carbon = Carbon::from_options(
        args.carbon.grid_intensity,
        args.carbon.grid_zone.as_deref(),
        args.carbon.pue,
    )?;
    let path = super::resolve_model(&args.model)?;
    let config = EngineConfig {
        parallel: args.parallel as usize,
        n_ctx: args.ctx_size.max(2),
        threads: args
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1),
        queue: args.queue,
        carbon,
        device: args.device,
        ..EngineConfig::default()
    };
    let engine = match &args.scripted_tokens {
        Some(ids) => Engine::scripted(&path, ids.clone(), config),
        None => Engine::start(&path, config),
    }
    .with_context(|| format!("cannot serve {}", path.display()))?;
    // Stderr: tests and scripts read the listening line on stdout.
    eprintln!("sobre: device {}", engine.device());
    let engine = Arc::new(engine);

    let addr = (args.host.as_str(), args.port)
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve --host {}", args.host))?
        .next()
        .with_context(|| format!("--host {} has no address", args.host))?;
    let api_key = args
        .api_key
        .clone()
        .or_else(|| std::env::var("SOBRE_API_KEY").ok())
        .filter(|k| !k.is_empty());
    // The alias; else the name the model was asked for when it came from
    // the store (`gemma3:270m`, as Ollama names it); else the file's stem.
    let model_id = args.alias.clone().unwrap_or_else(|| {
        if args.model.exists() {
            path.file_stem()
                .map_or_else(|| "model".to_string(), |s| s.to_string_lossy().into_owned())
        } else {
            args.model.to_string_lossy().into_owned()
        }
    });
    let options = ServerOptions {
        model_id: model_id.clone(),
        model_path: Some(path.clone()),
        api_key,
        allowed_hosts: ServerOptions::host_policy(addr.ip(), &args.allowed_hosts),
        cors_origins: args.cors_origins.clone(),
    };
    let app = server::router(AppState::new(engine.clone(), options));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))?;
        let local = listener.local_addr()?;
        // The source the engine's meter picked, for the startup line.
        let source = engine.energy_source();
        println!(
            "listening on http://{local} (model {model_id}, {} parallel, ctx {}, energy source {})",
            engine.parallel(),
            engine.n_ctx(),
            source.as_str()
        );
        use std::io::Write;
        std::io::stdout().flush()?;
        let limits = server::Limits {
            header_timeout: Duration::from_secs(args.header_timeout),
            idle_timeout: Duration::from_secs(args.idle_timeout),
            max_connections: args.max_connections as usize,
        };
        server::serve_with(listener, app, server::shutdown_signal(), limits)
            .await
            .context("the server failed")
    })?;
    tracing::info!("requests drained; stopping the engine");
    engine.shutdown();
    Ok(())
}

/// Logs to stderr, filtered by `RUST_LOG` (default: one line per request).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
