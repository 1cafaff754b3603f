//! The per-request work that needs no network: parsing references, resolving policies, and an
//! AdmissionReview's whole way from body to response (parse, plan, decide, respond with the
//! patch). `cargo bench -p portieris-core --bench policy`; figures in docs/benchmarks.md.

use core::hint::black_box;
use core::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use portieris_core::evidence::{Gathered, Material};
use portieris_core::policy::Resource;
use portieris_core::time::UnixTime;
use portieris_core::verdict::Assessment;
use portieris_core::{Digest, ImageRef, Options, Plan, PolicySet, Request, finish, plan};
use serde_json::{Value, json};

const DIGEST: &str = "sha256:a4064e7997849b17cf1cb57088c4eee91fd00a87380bda8e3a8c57453ea44ed0";

fn references(c: &mut Criterion) {
    let mut group = c.benchmark_group("reference_parse");
    for (name, text) in [
        ("short", "nginx"),
        ("tagged", "registry.example.com:5000/team/app:v1.2.3"),
        ("digest", &format!("icr.io/team/app@{DIGEST}") as &str),
    ] {
        group.bench_with_input(name, text, |b, text| {
            b.iter(|| ImageRef::parse(black_box(text)));
        });
    }
    group.finish();
}

/// `n` repositories as a large cluster writes them: a third exact names, a third
/// `team/*` wildcards, a third wildcards over hosts and paths; then `*` as the fallback.
fn policies(n: usize) -> PolicySet {
    let mut repositories: Vec<Value> = (0..n)
        .map(|i| match i % 3 {
            0 => json!({"name": format!("r{}.example.com/team{i}/app", i % 16)}),
            1 => json!({"name": format!("r{}.example.com/team{i}/*", i % 16)}),
            _ => json!({"name": format!("*.example.com/team{i}*/*")}),
        })
        .collect();
    repositories.push(json!({"name": "*"}));
    let object = json!({"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ClusterImagePolicy",
        "metadata": {"name": "cluster"}, "spec": {"repositories": repositories}});
    PolicySet::new([Resource::from_value(&object).expect("a policy")])
}

fn matching(c: &mut Criterion) {
    let mut group = c.benchmark_group("policy_match");
    for n in [10, 1_000, 10_000] {
        let set = policies(n);
        // Repositories near the middle, so a linear scan would pay for half the list.
        let middle = n / 2 / 3 * 3;
        let images = [
            (
                "exact",
                format!("r{}.example.com/team{middle}/app", middle % 16),
            ),
            (
                "wildcard",
                format!("r{}.example.com/team{}/x", (middle + 1) % 16, middle + 1),
            ),
            ("fallback", "docker.io/library/nginx:1.27".to_string()),
        ];
        for (kind, text) in images {
            let image = ImageRef::parse(&text).expect("an image");
            group.bench_with_input(BenchmarkId::new(kind, n), &image, |b, image| {
                b.iter(|| set.resolve(black_box("default"), black_box(image)).is_ok());
            });
        }
    }
    group.finish();
}

/// A Pod with `n` containers of distinct images, all under a trust policy.
fn review(n: usize) -> Vec<u8> {
    let containers: Vec<Value> = (0..n)
        .map(|i| json!({"name": format!("c{i}"), "image": format!("icr.io/team/app{i}:v1")}))
        .collect();
    serde_json::to_vec(
        &json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "3f1c", "namespace": "team", "operation": "CREATE",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "object": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
                "spec": {"containers": containers}}}}),
    )
    .expect("serialisable")
}

/// When the evidence is judged.
const NOW: UnixTime = UnixTime(1_800_000_000);

/// Notary's outcome for a need: `digest` verified.
fn trusted(digest: &Digest) -> Gathered {
    Ok(Material::Trust(Ok(digest.clone())))
}

/// Parse, plan, decide with every image's digest verified, respond with the JSON Patch.
fn admit(body: &[u8], policies: &PolicySet, options: &Options) -> Vec<u8> {
    let request = Request::parse(body, options).expect("a valid review");
    let decision = match plan(&request, policies, options) {
        Plan::Final(decision) => decision,
        Plan::Images(images) => {
            let digest = Digest::parse(DIGEST).expect("a digest");
            let evidence: Vec<Vec<Gathered>> = images
                .iter()
                .map(|image| match &image.assessment {
                    Assessment::Needs(r) => r.needs.iter().map(|_| trusted(&digest)).collect(),
                    Assessment::Decided(_) => Vec::new(),
                })
                .collect();
            finish(&request, &images, &evidence, NOW)
        }
    };
    portieris_core::response::respond(&request.uid, &decision)
}

fn admission(c: &mut Criterion) {
    let object = json!({"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ClusterImagePolicy",
        "metadata": {"name": "trust"},
        "spec": {"repositories": [{"name": "icr.io/*", "policy": {"trust": {"enabled": true}}}]}});
    let set = PolicySet::new([Resource::from_value(&object).expect("a policy")]);
    let options = Options::default();
    let mut group = c.benchmark_group("admission_review");
    for n in [1, 50] {
        let body = review(n);
        let response = admit(&body, &set, &options);
        assert!(
            String::from_utf8_lossy(&response).contains(r#""allowed":true"#),
            "every image is admitted and pinned"
        );
        group.bench_with_input(BenchmarkId::new("containers", n), &body, |b, body| {
            b.iter(|| admit(black_box(body), &set, &options));
        });
    }
    group.finish();
}

/// The steps of `admit` one by one, for a one-container Pod: where a warm request's core time goes.
fn admission_steps(c: &mut Criterion) {
    let object = json!({"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ClusterImagePolicy",
        "metadata": {"name": "trust"},
        "spec": {"repositories": [{"name": "icr.io/*", "policy": {"trust": {"enabled": true}}}]}});
    let set = PolicySet::new([Resource::from_value(&object).expect("a policy")]);
    let options = Options::default();
    let body = review(1);
    let request = Request::parse(&body, &options).expect("a valid review");
    let Plan::Images(images) = plan(&request, &set, &options) else {
        panic!("a Pod is planned image by image");
    };
    let digest = Digest::parse(DIGEST).expect("a digest");
    let evidence = vec![vec![trusted(&digest)]];
    let decision = finish(&request, &images, &evidence, NOW);
    let mut group = c.benchmark_group("admission_steps");
    // The one-container Pod, and the same Pod with everything else the API server sends (an UPDATE, so twice).
    let full: Value = serde_json::from_str(include_str!(
        "../tests/fixtures/admission/api-server-pod.json"
    ))
    .expect("the fixture is JSON");
    let full = serde_json::to_vec(&full).expect("serialisable");
    for (name, body) in [("parse_api_server", &full), ("parse", &body)] {
        group.bench_function(name, |b| {
            b.iter(|| Request::parse(black_box(body), &options));
        });
        // Reading the whole tree, as `parse` did before it pruned: what pruning saves.
        group.bench_function(format!("{name}_whole_tree"), |b| {
            b.iter(|| {
                let whole: Value = serde_json::from_slice(black_box(body)).expect("JSON");
                Request::from_value(&whole, &options)
            });
        });
    }
    group.bench_function("plan", |b| {
        b.iter(|| plan(black_box(&request), &set, &options));
    });
    group.bench_function("finish", |b| {
        b.iter(|| finish(black_box(&request), &images, &evidence, NOW));
    });
    group.bench_function("respond", |b| {
        b.iter(|| portieris_core::response::respond(black_box(&request.uid), &decision));
    });
    group.finish();
}

/// The costliest policies a validator accepts, against the largest pod: an ImagePolicy of
/// 2,000 (the issue's case) and of 20,000 (the bound of a scope) patterns that every image
/// reaches (`*/*aaa…ab<i>`: no host and no literal prefix to index by) and a pod of 512 images
/// whose 255-character names end in a run of `a`s. Each pattern's literal tail is a little
/// shorter than the image's path, so every (image, pattern) pair compares nearly the whole
/// path before it fails: longer patterns would fail at once, on length.
/// Backtracking globs took 25–28 s for the first; this is what one `plan` costs now (it runs
/// on a blocking thread: see `webhook/src/admit.rs`).
fn costly_policy(c: &mut Criterion) {
    let containers: Vec<Value> = (0..512)
        .map(|i| {
            let path = format!("{}{i:03}", "a".repeat(255 - "icr.io/".len() - 3));
            json!({"name": format!("c{i}"), "image": format!("icr.io/{path}")})
        })
        .collect();
    let body = serde_json::to_vec(
        &json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "u", "namespace": "team", "operation": "CREATE",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "object": {"metadata": {"name": "p"}, "spec": {"containers": containers}}}}),
    )
    .expect("serialisable");
    let options = Options::default();
    let request = Request::parse(&body, &options).expect("a valid review");
    assert_eq!(request.sites.len(), 512);
    let mut group = c.benchmark_group("costly_policy");
    group.sample_size(10);
    for patterns in [2_000, portieris_core::policy::MAX_SCOPE_REPOSITORIES] {
        let set = costly_patterns(patterns);
        assert_eq!(set.problems().count(), 0, "every pattern is accepted");
        let id = BenchmarkId::new("plan_512_images", patterns);
        group.bench_with_input(id, &set, |b, set| {
            b.iter(|| plan(black_box(&request), set, &options));
        });
    }
    group.finish();
}

/// An ImagePolicy of `n` patterns whose tails (about 240 bytes) no image of `costly_policy`
/// ends with, but only by their last characters.
fn costly_patterns(n: usize) -> PolicySet {
    let repositories: Vec<Value> = (0..n)
        .map(|i| {
            let tail = format!("b{i}");
            let name = format!("*/*{}{tail}", "a".repeat(240 - tail.len()));
            json!({"name": name, "policy": {}})
        })
        .collect();
    let object = json!({"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ImagePolicy",
        "metadata": {"name": "costly", "namespace": "team"}, "spec": {"repositories": repositories}});
    PolicySet::new([Resource::from_value(&object).expect("a policy")])
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! { name = benches; config = config(); targets = references, matching, admission, admission_steps, costly_policy }
criterion_main!(benches);
