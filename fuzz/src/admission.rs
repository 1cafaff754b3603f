//! AdmissionReview: parse, image extraction, and the JSON Patch that pins images.

use arbitrary::Unstructured;
use base64::Engine as _;
use portieris_core::admission::patch::{self, Replace};
use portieris_core::admission::{
    AdmissionError, ContainerList, ContainerSite, Kind, Operation, Options, Request,
};
use portieris_core::reference::ImageRef;
use portieris_core::response::{respond, respond_invalid};
use portieris_core::verdict::Decision;
use serde_json::Value;

use crate::input;

/// Target `admission`: an AdmissionReview, then after a NUL the options' control bytes.
pub fn run(data: &[u8]) {
    let (body, control) = input::split(data);
    let options = options(&mut Unstructured::new(control));
    let parsed = Request::parse(body, &options);
    // The pruned read agrees with reading the whole tree. It may accept more: skipped members
    // are not held to `Value`'s depth, number-range and surrogate limits. It refuses a member
    // it reads written twice, which a whole tree reads as the last.
    let whole: Option<Value> = serde_json::from_slice(body).ok();
    let ambiguous =
        matches!(&parsed, Err(e) if matches!(e.error, AdmissionError::DuplicateMember(_)));
    if let (false, Some(whole)) = (ambiguous, &whole) {
        assert_eq!(
            parsed,
            Request::from_value(whole, &options),
            "the pruned read differs from the whole tree"
        );
    }
    let request = match parsed {
        Ok(request) => request,
        Err(invalid) => {
            let uid = invalid.uid.as_deref().unwrap_or("");
            let response = response(&respond_invalid(uid, &invalid.error), uid);
            assert_eq!(response["allowed"], false, "an invalid request is refused");
            return;
        }
    };
    let Some(review) = whole else {
        return; // valid JSON that `Value` refuses, in a member nothing reads
    };
    let object = review["request"]
        .get("object")
        .cloned()
        .unwrap_or(Value::Null);
    check_sites(&request, &object, &options);
    if request.sites.is_empty() {
        return;
    }
    // Pin every image (to a fixed digest) and check the patch.
    let ops: Vec<Replace> = request
        .sites
        .iter()
        .map(|site| Replace {
            path: site.pointer.clone(),
            value: replacement(site),
        })
        .collect();
    let patched = apply(&object, &ops, &request.sites);
    // The patched object still parses, to the same request with the new images.
    let mut review = review;
    review["request"]["object"] = patched.clone();
    let body = serde_json::to_vec(&review).expect("a Value serialises");
    let again = Request::parse(&body, &options).expect("the patched review parses");
    let images: Vec<&str> = ops.iter().map(|op| op.value.as_str()).collect();
    let pointers = |r: &Request| {
        r.sites
            .iter()
            .map(|s| s.pointer.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(pointers(&again), pointers(&request), "patching moved sites");
    let got: Vec<&str> = again.sites.iter().map(|s| s.image.as_str()).collect();
    assert_eq!(
        got, images,
        "the patched review does not carry the new images"
    );
    assert_eq!(
        (
            &again.uid,
            &again.kind,
            &again.namespace,
            &again.name,
            again.operation
        ),
        (
            &request.uid,
            &request.kind,
            &request.namespace,
            &request.name,
            request.operation
        ),
    );
    assert_eq!(
        (&again.owner, &again.pull_secrets, &again.service_account),
        (
            &request.owner,
            &request.pull_secrets,
            &request.service_account
        ),
    );
    // The response carries the same patch.
    // Built from `allow_unchanged` so that fields the patch does not concern keep their
    // defaults (the decision type grows: warnings, annotations, waived denies).
    let mut decision = Decision::allow_unchanged();
    if let Decision::Allow { patch, .. } = &mut decision {
        patch.clone_from(&ops);
    }
    let response = response(&respond(&request.uid, &decision), &request.uid);
    assert_eq!(response["allowed"], true);
    assert_eq!(response["patchType"], "JSONPatch");
    let encoded = response["patch"]
        .as_str()
        .expect("the patch is base64 text");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("the patch is base64");
    assert_eq!(
        decoded,
        patch::to_json(&ops),
        "the response patch is the patch"
    );
    // A parent vouches only for digest-pinned children.
    for parent in [&object, &patched] {
        if request.inherits_from(parent) {
            assert!(
                request.sites.iter().all(pinned),
                "a child with an unpinned image inherits its parent's approval"
            );
        }
    }
}

/// Options from the control bytes; the defaults without any.
pub fn options(u: &mut Unstructured<'_>) -> Options {
    if u.is_empty() {
        return Options::default();
    }
    let max = input::byte(u, 255);
    let switches = input::byte(u, 0);
    // Fields added later keep their defaults.
    #[allow(clippy::needless_update)]
    Options {
        max_containers: if max == 255 {
            512
        } else {
            usize::from(max % 16)
        },
        allow_unknown_kinds: switches & 1 == 1,
        allow_cross_namespace_keys: switches & 2 == 2,
        ..Options::default()
    }
}

/// The AdmissionReview JSON of a response, checked for its envelope and uid.
pub fn response(bytes: &[u8], uid: &str) -> Value {
    let review: Value = serde_json::from_slice(bytes).expect("a response is JSON");
    assert_eq!(review["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(review["kind"], "AdmissionReview");
    assert_eq!(
        review["response"]["uid"], uid,
        "the response answers the request"
    );
    review["response"].clone()
}

/// The image a site is pinned to in the harness.
fn replacement(site: &ContainerSite) -> String {
    match ImageRef::parse(&site.image) {
        Ok(image) => image.pinned(&input::digest(2)),
        Err(_) => format!("fuzz.example/replaced@{}", input::digest(2)),
    }
}

fn pinned(site: &ContainerSite) -> bool {
    ImageRef::parse(&site.image).is_ok_and(|r| r.digest().is_some())
}

/// Sites are exactly the non-blank images of the pod spec's lists, in order, each with a
/// pointer that resolves to its image in the object.
pub fn check_sites(request: &Request, object: &Value, options: &Options) {
    let workload = match (&request.kind, request.operation) {
        (Kind::Workload(kind), Operation::Create | Operation::Update) => *kind,
        _ => {
            assert!(
                request.sites.is_empty(),
                "sites outside a workload CREATE/UPDATE"
            );
            return;
        }
    };
    assert!(
        request.sites.len() <= options.max_containers,
        "more sites than allowed"
    );
    let prefix = workload.pod_spec_pointer();
    let spec = object
        .pointer(prefix)
        .expect("a workload request has a pod spec");
    let mut expected = Vec::new();
    for list in ContainerList::ALL {
        let items = spec.get(list.field()).and_then(Value::as_array);
        for (index, item) in items.into_iter().flatten().enumerate() {
            let pointer = format!("{prefix}/{}/{index}{}", list.field(), list.image_pointer());
            if let Some(image) = item.pointer(list.image_pointer()).and_then(Value::as_str)
                && !image.is_empty()
            {
                expected.push((list, index, pointer, image));
            }
        }
    }
    let got: Vec<_> = request
        .sites
        .iter()
        .map(|s| (s.list, s.index, s.pointer.clone(), s.image.as_str()))
        .collect();
    assert_eq!(got, expected, "the sites are not the pod spec's images");
    for site in &request.sites {
        assert_eq!(
            object.pointer(&site.pointer).and_then(Value::as_str),
            Some(site.image.as_str()),
            "{}: the pointer does not resolve to the image",
            site.pointer
        );
    }
}

/// Applies `ops` to `object` with an independent RFC 6902 implementation and checks that
/// exactly the `image` fields at the ops' pointers changed, to the ops' values. Returns the
/// patched object.
pub fn apply(object: &Value, ops: &[Replace], sites: &[ContainerSite]) -> Value {
    let json = patch::to_json(ops);
    let encoded = base64::engine::general_purpose::STANDARD.encode(&json);
    assert_eq!(patch::encode(ops), encoded, "encode is base64 of to_json");
    let document: json_patch::Patch = serde_json::from_slice(&json).expect("a JSON Patch");
    let mut patched = object.clone();
    json_patch::patch(&mut patched, &document).expect("the patch applies to the object");
    let mut restored = patched.clone();
    for op in ops {
        assert!(
            op.path.ends_with("/image") || op.path.ends_with("/image/reference"),
            "{}: not an image field",
            op.path
        );
        let site = sites
            .iter()
            .find(|s| s.pointer == op.path)
            .unwrap_or_else(|| panic!("{}: not a reported site", op.path));
        assert_eq!(
            patched.pointer(&op.path).and_then(Value::as_str),
            Some(op.value.as_str()),
            "{}: the patch did not set the image",
            op.path
        );
        *restored
            .pointer_mut(&op.path)
            .expect("the pointer resolves") = Value::String(site.image.clone());
    }
    assert_eq!(
        &restored, object,
        "the patch changed more than the image fields"
    );
    patched
}
