//! Load benchmark for the portieris webhook (`bench/run.sh` drives it): `loadgen` posts
//! AdmissionReviews over TLS and reports latency percentiles, and `ceiling` is a bare
//! rustls + hyper server answering a fixed AdmissionReview — the most this stack can do on the
//! same machine, against which portieris' throughput is reported.

pub mod load;
pub mod report;
pub mod tls;
