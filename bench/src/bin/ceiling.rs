//! The ceiling: a bare rustls + hyper server (the webhook's stack, same runtime) that reads
//! each request body and answers a fixed AdmissionReview. No JSON parsing, no policy, no
//! metrics: whatever portieris does on top costs throughput relative to this.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use portieris_bench::tls;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// What portieris answers for an allowed, digest-pinned single-container Pod.
const RESPONSE: &str = r#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"bench","allowed":true,"patchType":"JSONPatch","patch":"W3sib3AiOiJyZXBsYWNlIiwicGF0aCI6Ii9zcGVjL2NvbnRhaW5lcnMvMC9pbWFnZSIsInZhbHVlIjoiMTI3LjAuMC4xOjUwMDAvdGVzdC9zaWduZWRAc2hhMjU2OmVhODkzN2VkNDc2NWNkMzAyNWZhMmQzMTk3NjFhZmRlNjM1ZmJhMWRlYjAzMTM1YTJjN2RmMmRhY2JjNTg0NTIifV0="}}"#;

#[derive(Debug, Parser)]
#[command(about = "Bare rustls+hyper server answering a fixed AdmissionReview")]
struct Args {
    #[arg(long, default_value = "127.0.0.1:8100")]
    listen: SocketAddr,
    /// PEM certificate chain.
    #[arg(long)]
    cert: PathBuf,
    /// PEM private key.
    #[arg(long)]
    key: PathBuf,
}

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Read the body whole, as the webhook must before it can decide.
    let _ = request.into_body().collect().await;
    let mut response = Response::new(Full::new(Bytes::from_static(RESPONSE.as_bytes())));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(response)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let acceptor = TlsAcceptor::from(tls::server(&args.cert, &args.key)?);
    let listener = TcpListener::bind(args.listen).await?;
    let http = auto::Builder::new(TokioExecutor::new());
    loop {
        let (tcp, _) = listener.accept().await?;
        let (acceptor, http) = (acceptor.clone(), http.clone());
        tokio::spawn(async move {
            let _ = tcp.set_nodelay(true);
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let _ = http
                .serve_connection(TokioIo::new(tls), service_fn(answer))
                .await;
        });
    }
}
