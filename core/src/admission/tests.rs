use super::*;
use crate::reason::Reason;
use crate::response::{respond, respond_invalid};
use crate::verdict::Decision;
use alloc::format;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use base64::Engine as _;
use serde_json::json;

const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn pod_spec() -> Value {
    json!({
        "initContainers": [{"name": "init", "image": "icr.io/team/init:1"}],
        "containers": [{"name": "a", "image": "nginx"}, {"name": "blank", "image": ""}, {"name": "b", "image": "icr.io/team/b"}],
        "ephemeralContainers": [{"name": "debug", "image": "busybox"}],
    })
}

/// An object of `kind` whose pod spec is `spec`, at the place that kind keeps it.
fn object(kind: WorkloadKind, spec: Value) -> Value {
    let mut object = json!({"metadata": {"name": "obj", "namespace": "team"}});
    let mut at = &mut object;
    for token in kind.pod_spec_pointer().split('/').skip(1) {
        at = &mut at[token];
    }
    *at = spec;
    object
}

fn review(group: &str, kind: &str, operation: &str, object: Value) -> Vec<u8> {
    let review = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "uid-1", "kind": {"group": group, "version": "v1", "kind": kind},
        "resource": {"group": group, "version": "v1", "resource": "x"},
        "namespace": "team", "operation": operation, "object": object,
    }});
    serde_json::to_vec(&review).expect("serialisable")
}

/// `Request::parse`, checked against reading the whole tree: every body of these tests is
/// also a case for the pruned read (`prune`).
fn parse(body: &[u8]) -> Result<Request, Invalid> {
    parse_with(body, &Options::default())
}

fn parse_with(body: &[u8], options: &Options) -> Result<Request, Invalid> {
    let parsed = Request::parse(body, options);
    let ambiguous =
        matches!(&parsed, Err(e) if matches!(e.error, AdmissionError::DuplicateMember(_)));
    // A whole `Value` tree keeps the last of two members; the pruned read refuses them.
    if let (false, Ok(whole)) = (ambiguous, serde_json::from_slice::<Value>(body)) {
        assert_eq!(
            parsed,
            Request::from_value(&whole, options),
            "pruned and whole reads differ"
        );
    }
    parsed
}

const KINDS: [(&str, WorkloadKind); 8] = [
    ("", WorkloadKind::Pod),
    ("apps", WorkloadKind::Deployment),
    ("apps", WorkloadKind::ReplicaSet),
    ("apps", WorkloadKind::StatefulSet),
    ("apps", WorkloadKind::DaemonSet),
    ("", WorkloadKind::ReplicationController),
    ("batch", WorkloadKind::Job),
    ("batch", WorkloadKind::CronJob),
];

#[test]
fn every_workload_kind_yields_every_image_with_its_pointer() {
    for (group, kind) in KINDS {
        for operation in ["CREATE", "UPDATE"] {
            let request = parse(&review(
                group,
                kind.as_str(),
                operation,
                object(kind, pod_spec()),
            ))
            .expect("valid");
            let prefix = kind.pod_spec_pointer();
            let got: Vec<(&str, &str)> = request
                .sites
                .iter()
                .map(|s| (s.pointer.as_str(), s.image.as_str()))
                .collect();
            let want = [
                (
                    format!("{prefix}/initContainers/0/image"),
                    "icr.io/team/init:1",
                ),
                (format!("{prefix}/containers/0/image"), "nginx"),
                (format!("{prefix}/containers/2/image"), "icr.io/team/b"),
                (format!("{prefix}/ephemeralContainers/0/image"), "busybox"),
            ];
            let want: Vec<(&str, &str)> = want.iter().map(|(p, i)| (p.as_str(), *i)).collect();
            assert_eq!(got, want, "{kind} {operation}");
            assert_eq!(request.kind, Kind::Workload(kind));
        }
    }
}

#[test]
fn every_pointer_resolves_to_its_image_in_the_object() {
    for (group, kind) in KINDS {
        let object = object(kind, pod_spec());
        let request =
            parse(&review(group, kind.as_str(), "CREATE", object.clone())).expect("valid");
        for site in &request.sites {
            assert_eq!(
                object.pointer(&site.pointer).and_then(Value::as_str),
                Some(site.image.as_str())
            );
        }
    }
}

#[test]
fn old_api_groups_are_still_workloads() {
    let request = parse(&review(
        "extensions",
        "Deployment",
        "CREATE",
        object(WorkloadKind::Deployment, pod_spec()),
    ));
    assert_eq!(
        request.expect("valid").kind,
        Kind::Workload(WorkloadKind::Deployment)
    );
}

#[test]
fn zero_replicas_change_nothing() {
    let mut object = object(WorkloadKind::Deployment, pod_spec());
    object["spec"]["replicas"] = json!(0);
    let request = parse(&review("apps", "Deployment", "CREATE", object)).expect("valid");
    assert_eq!(request.sites.len(), 4);
}

#[test]
fn ephemeral_containers_subresource_is_checked() {
    let mut body: Value = serde_json::from_slice(&review(
        "",
        "Pod",
        "UPDATE",
        object(WorkloadKind::Pod, pod_spec()),
    ))
    .expect("json");
    body["request"]["subResource"] = json!("ephemeralcontainers");
    let request = parse(&serde_json::to_vec(&body).expect("json")).expect("valid");
    assert_eq!(request.sub_resource, "ephemeralcontainers");
    assert!(
        request
            .sites
            .iter()
            .any(|s| s.list == ContainerList::EphemeralContainers && s.image == "busybox")
    );
}

#[test]
fn image_volumes_are_images_of_every_kind_pinned_at_their_reference() {
    for (group, kind) in KINDS {
        let spec = json!({"containers": [{"name": "a", "image": "nginx"}], "volumes": [
            {"name": "cfg", "configMap": {"name": "c"}},
            {"name": "models", "image": {"reference": "icr.io/team/models:1", "pullPolicy": "IfNotPresent"}},
            {"name": "blank", "image": {"reference": ""}},
            {"name": "none", "image": null},
        ]});
        let object = object(kind, spec);
        let request =
            parse(&review(group, kind.as_str(), "CREATE", object.clone())).expect("valid");
        let prefix = kind.pod_spec_pointer();
        let got: Vec<(ContainerList, &str, &str)> = request
            .sites
            .iter()
            .map(|s| (s.list, s.pointer.as_str(), s.image.as_str()))
            .collect();
        let volume = format!("{prefix}/volumes/1/image/reference");
        let container = format!("{prefix}/containers/0/image");
        assert_eq!(
            got,
            [
                (ContainerList::Containers, container.as_str(), "nginx"),
                (
                    ContainerList::ImageVolumes,
                    volume.as_str(),
                    "icr.io/team/models:1"
                ),
            ],
            "{kind}"
        );
        let pin = patch::Replace {
            path: volume.clone(),
            value: format!("icr.io/team/models@{D}"),
        };
        let ops: json_patch::Patch =
            serde_json::from_slice(&patch::to_json(&[pin])).expect("a patch");
        let mut patched = object.clone();
        json_patch::patch(&mut patched, &ops).expect("the pin applies");
        assert_eq!(
            patched.pointer(&volume),
            Some(&json!(format!("icr.io/team/models@{D}")))
        );
    }
}

#[test]
fn malformed_image_volumes_are_refused_with_their_pointer() {
    for (volume, problem) in [
        (json!("x"), "the volume is not an object"),
        (
            json!({"image": "icr.io/x:1"}),
            "the image volume source is not an object",
        ),
        (
            json!({"image": {"reference": 7}}),
            "the image must be a string",
        ),
    ] {
        let object = object(WorkloadKind::Pod, json!({"volumes": [volume]}));
        let error = parse(&review("", "Pod", "CREATE", object))
            .expect_err("malformed")
            .error;
        assert_eq!(
            error,
            AdmissionError::Malformed {
                pointer: "/spec/volumes/0/image/reference".into(),
                problem
            }
        );
    }
}

#[test]
fn a_child_whose_parent_has_another_image_volume_does_not_inherit() {
    let pinned = alloc::format!("icr.io/team/app@{D}");
    let volume = |reference: &str| json!([{"name": "v", "image": {"reference": reference}}]);
    let mut pod = object(
        WorkloadKind::Pod,
        json!({"containers": [{"name": "c", "image": pinned}], "volumes": volume(&pinned)}),
    );
    pod["metadata"]["ownerReferences"] = json!([
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "rs-uid", "controller": true}]);
    let child = parse(&review("", "Pod", "CREATE", pod)).expect("valid");
    let mut parent = replica_set("rs-uid", &[&pinned]);
    assert!(
        !child.inherits_from(&parent),
        "the parent has no such volume"
    );
    parent["spec"]["template"]["spec"]["volumes"] = volume("icr.io/team/app:1");
    assert!(!child.inherits_from(&parent), "a tag is not proof");
    parent["spec"]["template"]["spec"]["volumes"] = volume(&pinned);
    assert!(child.inherits_from(&parent));
}

/// What Kubernetes 1.16–1.21 sent for `kubectl debug`: the `pods/ephemeralcontainers`
/// subresource as an `EphemeralContainers` object, its list at the root.
fn legacy_ephemeral(images: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .map(|i| json!({"name": "debugger", "image": i}))
        .collect();
    json!({"apiVersion": "v1", "kind": "EphemeralContainers",
        "metadata": {"name": "web", "namespace": "team"}, "ephemeralContainers": containers})
}

#[test]
fn the_legacy_ephemeral_containers_kind_is_checked_even_with_unknown_kinds_allowed() {
    let lenient = Options {
        allow_unknown_kinds: true,
        ..Options::default()
    };
    for options in [Options::default(), lenient] {
        let mut body: Value = serde_json::from_slice(&review(
            "",
            "EphemeralContainers",
            "UPDATE",
            legacy_ephemeral(&["busybox", "icr.io/team/debug:1"]),
        ))
        .expect("json");
        body["request"]["subResource"] = json!("ephemeralcontainers");
        let request =
            parse_with(&serde_json::to_vec(&body).expect("json"), &options).expect("valid");
        assert_eq!(
            request.kind,
            Kind::Workload(WorkloadKind::EphemeralContainers)
        );
        let got: Vec<(&str, &str)> = request
            .sites
            .iter()
            .map(|s| (s.pointer.as_str(), s.image.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("/ephemeralContainers/0/image", "busybox"),
                ("/ephemeralContainers/1/image", "icr.io/team/debug:1")
            ]
        );
        let set = crate::policy::PolicySet::default();
        let crate::verdict::Plan::Images(images) = crate::verdict::plan(&request, &set, &options)
        else {
            panic!("the images are checked, not admitted as an unknown kind")
        };
        assert_eq!(images.len(), 2);
    }
}

#[test]
fn an_owner_reference_to_the_legacy_kind_is_no_owner() {
    let mut pod = object(
        WorkloadKind::Pod,
        json!({"containers": [{"name": "c", "image": "nginx"}]}),
    );
    pod["metadata"]["ownerReferences"] = json!([{"apiVersion": "v1", "kind": "EphemeralContainers",
        "name": "web", "uid": "u", "controller": true}]);
    assert_eq!(
        parse(&review("", "Pod", "CREATE", pod))
            .expect("valid")
            .owner,
        None
    );
}

#[test]
fn unknown_kinds_and_kinds_from_other_groups_are_not_workloads() {
    for (group, kind) in [
        ("example.com", "Widget"),
        ("example.com", "Pod"),
        ("", "Deployment"),
    ] {
        let request = parse(&review(group, kind, "CREATE", json!({"spec": {}}))).expect("parses");
        assert!(matches!(request.kind, Kind::Other { .. }), "{group} {kind}");
        assert!(request.sites.is_empty());
    }
}

#[test]
fn delete_needs_no_object() {
    let mut body: Value =
        serde_json::from_slice(&review("", "Pod", "DELETE", Value::Null)).expect("json");
    body["request"]["object"] = Value::Null;
    let request = parse(&serde_json::to_vec(&body).expect("json")).expect("valid");
    assert_eq!(request.operation, Operation::Delete);
}

#[test]
fn malformed_reviews_are_refused_with_a_reason() {
    assert!(matches!(
        parse(b"{nope"),
        Err(Invalid {
            uid: None,
            error: AdmissionError::NotJson(_)
        })
    ));
    let wrong = json!({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {"uid": "u"}});
    assert_eq!(
        parse(&serde_json::to_vec(&wrong).expect("json")).map(|_| ()),
        Err(Invalid {
            uid: None,
            error: AdmissionError::NotAdmissionReview
        })
    );
    let no_uid =
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {}});
    assert_eq!(
        parse(&serde_json::to_vec(&no_uid).expect("json")).map(|_| ()),
        Err(Invalid {
            uid: None,
            error: AdmissionError::MissingField("request.uid")
        })
    );
}

#[test]
fn malformed_objects_are_refused_with_the_uid_and_the_pointer() {
    let cases = [
        (json!({"containers": "nginx"}), "/spec/containers"),
        (
            json!({"containers": [{"name": "a", "image": 7}]}),
            "/spec/containers/0/image",
        ),
        (json!({"containers": ["nginx"]}), "/spec/containers/0/image"),
    ];
    for (spec, pointer) in cases {
        let err = parse(&review(
            "",
            "Pod",
            "CREATE",
            object(WorkloadKind::Pod, spec),
        ))
        .expect_err("refused");
        assert_eq!(err.uid.as_deref(), Some("uid-1"));
        assert!(
            matches!(&err.error, AdmissionError::Malformed { pointer: p, .. } if p == pointer),
            "{err:?}"
        );
    }
    let err = parse(&review("apps", "Deployment", "CREATE", json!({"spec": {}})))
        .expect_err("no pod template");
    assert!(matches!(err.error, AdmissionError::Malformed { .. }));
    let err = parse(&review("", "Pod", "CREATE", Value::Null)).expect_err("no object");
    assert_eq!(err.error, AdmissionError::MissingField("request.object"));
}

#[test]
fn container_count_is_bounded() {
    let containers: Vec<Value> = (0..10)
        .map(|i| json!({"name": i.to_string(), "image": "nginx"}))
        .collect();
    let body = review(
        "",
        "Pod",
        "CREATE",
        object(WorkloadKind::Pod, json!({"containers": containers})),
    );
    let options = Options {
        max_containers: 9,
        ..Options::default()
    };
    assert_eq!(
        parse_with(&body, &options)
            .map(|_| ())
            .expect_err("too many")
            .error,
        AdmissionError::TooManyContainers { max: 9 }
    );
    assert!(
        parse_with(
            &body,
            &Options {
                max_containers: 10,
                ..Options::default()
            }
        )
        .is_ok()
    );
}

#[test]
fn patches_apply_back_to_the_object_and_touch_only_images() {
    let digest = crate::reference::Digest::parse(D).expect("digest");
    for (group, kind) in KINDS {
        let original = object(kind, pod_spec());
        let request =
            parse(&review(group, kind.as_str(), "CREATE", original.clone())).expect("valid");
        let ops: Vec<patch::Replace> = request
            .sites
            .iter()
            .map(|s| patch::Replace {
                path: s.pointer.clone(),
                value: ImageRef::parse(&s.image).expect("image").pinned(&digest),
            })
            .collect();
        let doc: json_patch::Patch =
            serde_json::from_slice(&patch::to_json(&ops)).expect("a JSON Patch");
        let mut patched = original.clone();
        json_patch::patch(&mut patched, &doc).expect("applies");
        let spec = patched.pointer(kind.pod_spec_pointer()).expect("spec");
        assert_eq!(
            spec["containers"][0]["image"],
            json!(alloc::format!("docker.io/library/nginx@{D}"))
        );
        assert_eq!(
            spec["containers"][1]["image"],
            json!(""),
            "blank images stay blank"
        );
        assert_eq!(
            spec["ephemeralContainers"][0]["image"],
            json!(alloc::format!("docker.io/library/busybox@{D}"))
        );
        let mut restored = patched.clone();
        for site in &request.sites {
            *restored.pointer_mut(&site.pointer).expect("image field") = json!(site.image);
        }
        assert_eq!(
            restored, original,
            "{kind}: nothing but image fields changed"
        );
    }
}

#[test]
fn pointer_tokens_are_escaped() {
    assert_eq!(patch::escape("a/b~c"), "a~1b~0c");
    let doc = json!({"a/b~c": {"image": "x"}});
    let op = patch::Replace {
        path: alloc::format!("/{}/image", patch::escape("a/b~c")),
        value: "y".into(),
    };
    let mut patched = doc.clone();
    let doc: json_patch::Patch = serde_json::from_slice(&patch::to_json(&[op])).expect("patch");
    json_patch::patch(&mut patched, &doc).expect("applies");
    assert_eq!(patched["a/b~c"]["image"], json!("y"));
}

#[test]
fn allow_response_carries_a_base64_json_patch() {
    let op = patch::Replace {
        path: "/spec/containers/0/image".into(),
        value: "v".into(),
    };
    let decision = Decision::Allow {
        patch: vec![op],
        warnings: vec!["careful".into()],
        annotate: None,
        waived: vec![],
    };
    let response: Value = serde_json::from_slice(&respond("uid-1", &decision)).expect("json");
    assert_eq!(response["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(response["response"]["uid"], "uid-1");
    assert_eq!(response["response"]["allowed"], true);
    assert_eq!(response["response"]["patchType"], "JSONPatch");
    assert_eq!(response["response"]["warnings"], json!(["careful"]));
    let encoded = response["response"]["patch"].as_str().expect("patch");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("base64");
    let ops: Value = serde_json::from_slice(&decoded).expect("json");
    assert_eq!(
        ops,
        json!([{"op": "replace", "path": "/spec/containers/0/image", "value": "v"}])
    );
}

#[test]
fn allow_without_pins_has_no_patch() {
    let response: Value =
        serde_json::from_slice(&respond("u", &Decision::allow_unchanged())).expect("json");
    assert!(
        response["response"].get("patch").is_none()
            && response["response"].get("patchType").is_none()
    );
}

#[test]
fn deny_and_invalid_responses_carry_status() {
    let deny = Decision::Deny {
        reasons: vec![Reason::refused("a"), Reason::unverifiable("b")],
    };
    let response: Value = serde_json::from_slice(&respond("u", &deny)).expect("json");
    assert_eq!(response["response"]["allowed"], false);
    assert_eq!(response["response"]["status"]["code"], 403);
    assert_eq!(response["response"]["status"]["message"], "a\nb");
    let invalid = respond_invalid("u", &AdmissionError::MissingField("request.object"));
    let response: Value = serde_json::from_slice(&invalid).expect("json");
    assert_eq!(response["response"]["status"]["code"], 400);
    assert_eq!(response["response"]["allowed"], false);
}

fn child_pod(images: &[&str]) -> Request {
    let containers: Vec<Value> = images
        .iter()
        .map(|i| json!({"name": "c", "image": i}))
        .collect();
    let mut pod = object(WorkloadKind::Pod, json!({"containers": containers}));
    pod["metadata"]["ownerReferences"] = json!([
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "x", "uid": "cm"},
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs", "uid": "rs-uid", "controller": true},
    ]);
    parse(&review("", "Pod", "CREATE", pod)).expect("valid")
}

fn replica_set(uid: &str, images: &[&str]) -> Value {
    let containers: Vec<Value> = images
        .iter()
        .map(|i| json!({"name": "c", "image": i}))
        .collect();
    let mut rs = object(WorkloadKind::ReplicaSet, json!({"containers": containers}));
    rs["metadata"] = json!({"name": "rs", "namespace": "team", "uid": uid});
    rs
}

#[test]
fn the_controller_owner_is_found() {
    let owner = child_pod(&["nginx"]).owner.expect("owner");
    assert_eq!(
        (owner.kind, owner.name.as_str(), owner.uid.as_str()),
        (WorkloadKind::ReplicaSet, "rs", "rs-uid")
    );
}

#[test]
fn a_child_inherits_only_its_parents_pinned_images() {
    let pinned = alloc::format!("icr.io/team/app@{D}");
    let child = child_pod(&[&pinned]);
    assert!(child.inherits_from(&replica_set("rs-uid", &[&pinned])));
    assert!(
        !child.inherits_from(&replica_set("other-uid", &[&pinned])),
        "a different object of that name"
    );
    assert!(!child.inherits_from(&replica_set("rs-uid", &["icr.io/team/other@sha256:0000000000000000000000000000000000000000000000000000000000000000"])));
    assert!(
        !child.inherits_from(&replica_set("rs-uid", &[&pinned, &pinned])),
        "images must match position for position"
    );
    let tagged = child_pod(&["icr.io/team/app:1"]);
    assert!(
        !tagged.inherits_from(&replica_set("rs-uid", &["icr.io/team/app:1"])),
        "tags are not proof"
    );
}

#[test]
fn a_fake_owner_of_unknown_kind_is_ignored() {
    let mut pod = object(
        WorkloadKind::Pod,
        json!({"containers": [{"name": "c", "image": "nginx"}]}),
    );
    pod["metadata"]["ownerReferences"] = json!([{"apiVersion": "example.com/v1", "kind": "ReplicaSet", "name": "rs", "uid": "u", "controller": true}]);
    assert_eq!(
        parse(&review("", "Pod", "CREATE", pod))
            .expect("valid")
            .owner,
        None
    );
}

#[test]
fn pull_secrets_and_service_account_come_from_the_pod_spec() {
    let spec = json!({"containers": [{"name": "c", "image": "nginx"}], "serviceAccountName": "builder",
        "imagePullSecrets": [{"name": "icr"}, {"name": ""}, {"name": "hub"}]});
    let request = parse(&review(
        "batch",
        "CronJob",
        "CREATE",
        object(WorkloadKind::CronJob, spec),
    ))
    .expect("valid");
    assert_eq!(
        request.pull_secrets,
        vec![String::from("icr"), String::from("hub")]
    );
    assert_eq!(request.service_account.as_deref(), Some("builder"));
    let bare = parse(&review(
        "",
        "Pod",
        "CREATE",
        object(WorkloadKind::Pod, pod_spec()),
    ))
    .expect("valid");
    assert!(bare.pull_secrets.is_empty() && bare.service_account.is_none());
}

/// The `json!` implementation the typed response replaced, kept to prove the bytes unchanged.
mod json_tree {
    use super::*;
    use crate::admission::patch::{Annotate, Annotations, Replace};

    fn annotate_op(a: &Annotate) -> Value {
        match a.at {
            Annotations::NoMetadata => {
                json!({"op": "add", "path": "/metadata", "value": {"annotations": {&a.key: &a.value}}})
            }
            Annotations::NoMap => {
                json!({"op": "add", "path": "/metadata/annotations", "value": {&a.key: &a.value}})
            }
            Annotations::Map => {
                let path = format!("/metadata/annotations/{}", patch::escape(&a.key));
                json!({"op": "add", "path": path, "value": &a.value})
            }
        }
    }

    pub fn document(ops: &[Replace], annotate: Option<&Annotate>) -> Vec<u8> {
        let ops: Vec<Value> = ops
            .iter()
            .map(|op| json!({"op": "replace", "path": op.path, "value": op.value}))
            .chain(annotate.map(annotate_op))
            .collect();
        serde_json::to_vec(&ops).expect("serialisable")
    }

    pub fn respond(uid: &str, decision: &Decision) -> Vec<u8> {
        let response = match decision {
            Decision::Allow {
                patch,
                warnings,
                annotate,
                ..
            } => {
                let mut response = json!({"uid": uid, "allowed": true});
                if !patch.is_empty() || annotate.is_some() {
                    response["patchType"] = json!("JSONPatch");
                    let document = document(patch, annotate.as_ref());
                    response["patch"] =
                        json!(base64::engine::general_purpose::STANDARD.encode(document));
                }
                if !warnings.is_empty() {
                    response["warnings"] = json!(warnings);
                }
                response
            }
            Decision::Deny { reasons } => json!({
                "uid": uid,
                "allowed": false,
                "status": {"status": "Failure", "code": 403, "reason": "Forbidden", "message": reasons.iter().map(|r| r.text.as_str()).collect::<Vec<_>>().join("\n")},
            }),
        };
        review(response)
    }

    pub fn respond_invalid(uid: &str, error: &AdmissionError) -> Vec<u8> {
        review(json!({
            "uid": uid,
            "allowed": false,
            "status": {"status": "Failure", "code": 400, "reason": "BadRequest", "message": crate::text::escape_controls(&error.to_string())},
        }))
    }

    fn review(response: Value) -> Vec<u8> {
        let review =
            json!({"apiVersion": API_VERSION, "kind": "AdmissionReview", "response": response});
        serde_json::to_vec(&review).expect("serialisable")
    }
}

#[test]
fn typed_responses_are_byte_for_byte_the_json_tree_ones() {
    use crate::admission::patch::{Annotate, Annotations, Replace};
    let awkward = "q\"uote\\ \u{1} \u{e9} \u{2028} </script>";
    let pins = vec![
        Replace {
            path: "/spec/containers/0/image".into(),
            value: format!("icr.io/a@{D}"),
        },
        Replace {
            path: "/spec/initContainers/1/image".into(),
            value: awkward.into(),
        },
    ];
    let annotate = |at| Annotate {
        at,
        key: "portieris.cloud.ibm.com/original~images".into(),
        value: format!("{{\"/spec/containers/0/image\":\"{awkward}\"}}"),
    };
    let allow = |patch: Vec<Replace>, warnings: Vec<String>, annotate, waived: Vec<Reason>| {
        Decision::Allow {
            patch,
            warnings,
            annotate,
            waived,
        }
    };
    let mut decisions = vec![
        Decision::allow_unchanged(),
        allow(pins.clone(), vec![], None, vec![]),
        allow(
            vec![],
            vec!["careful".into(), awkward.into()],
            None,
            vec![Reason::refused("x")],
        ),
        allow(pins.clone(), vec!["w".into()], None, vec![]),
        Decision::Deny {
            reasons: vec![Reason::refused("a"), Reason::policy(awkward)],
        },
        Decision::Deny { reasons: vec![] },
    ];
    for at in [
        Annotations::NoMetadata,
        Annotations::NoMap,
        Annotations::Map,
    ] {
        decisions.push(allow(pins.clone(), vec![], Some(annotate(at)), vec![]));
        decisions.push(allow(vec![], vec!["w".into()], Some(annotate(at)), vec![]));
        let document = patch::document(&pins, Some(&annotate(at)));
        assert_eq!(document, json_tree::document(&pins, Some(&annotate(at))));
    }
    for uid in ["uid-1", awkward] {
        for decision in &decisions {
            let (new, old) = (respond(uid, decision), json_tree::respond(uid, decision));
            assert_eq!(
                String::from_utf8(new).expect("utf-8"),
                String::from_utf8(old).expect("utf-8"),
                "{decision:?}"
            );
        }
        for error in [
            AdmissionError::MissingField("request.object"),
            AdmissionError::NotJson(awkward.into()),
        ] {
            assert_eq!(
                respond_invalid(uid, &error),
                json_tree::respond_invalid(uid, &error)
            );
        }
    }
    assert_eq!(patch::to_json(&[]), json_tree::document(&[], None));
}

/// A Pod as the API server sends it (see the fixture's README): most of it is never read.
fn api_server_review() -> Value {
    serde_json::from_str(include_str!(
        "../../tests/fixtures/admission/api-server-pod.json"
    ))
    .expect("the fixture is JSON")
}

#[test]
fn a_full_api_server_review_reads_as_its_whole_tree_does() {
    let body = serde_json::to_vec(&api_server_review()).expect("json");
    let request = parse(&body).expect("valid");
    assert_eq!(request.sites.len(), 1);
    assert_eq!(request.sites[0].image, "icr.io/team/web:1");
    assert_eq!(request.pull_secrets, ["icr"]);
    assert_eq!(request.service_account.as_deref(), Some("builder"));
    assert_eq!(
        request.owner.as_ref().map(|o| o.uid.as_str()),
        Some("rs-uid")
    );
    assert_eq!(request.original_images.at, patch::Annotations::Map);
}

#[test]
fn the_kind_may_follow_the_object() {
    let review = api_server_review();
    let request = &review["request"];
    // serde_json writes members sorted; write `object` before `kind` by hand.
    let body = format!(
        r#"{{"request": {{"object": {}, "uid": "uid-9", "operation": "CREATE", "kind": {}}}, "kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1"}}"#,
        request["object"], request["kind"]
    );
    assert_eq!(parse(body.as_bytes()).expect("valid").sites.len(), 1);
}

#[test]
fn members_of_the_wrong_type_are_read_as_in_the_whole_tree() {
    let cases = [
        ("/request", json!(1)),
        ("/request/kind", Value::Null),
        ("/request/object", json!([])),
        ("/request/object/metadata", json!("x")),
        (
            "/request/object/metadata/ownerReferences",
            json!({"controller": true}),
        ),
        ("/request/object/metadata/annotations", json!([1])),
        ("/request/object/spec", json!([{"containers": []}])),
        ("/request/object/spec/containers", json!({"image": "nginx"})),
        (
            "/request/object/spec/containers",
            json!([["nginx"], {"image": 7}]),
        ),
        (
            "/request/object/spec/imagePullSecrets",
            json!([{"name": 1}, "icr"]),
        ),
    ];
    for (pointer, value) in cases {
        let mut review = api_server_review();
        *review.pointer_mut(pointer).expect("present") = value;
        // `parse` compares the pruned read with the whole one.
        let _ = parse(&serde_json::to_vec(&review).expect("json"));
    }
}

#[test]
fn a_member_written_twice_is_refused_wherever_it_is_read() {
    let review = |object: &str, request_extra: &str| {
        format!(
            r#"{{"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {{
            "uid": "u", "operation": "CREATE", "kind": {{"group": "", "version": "v1", "kind": "Pod"}},
            {request_extra} "object": {object}}}}}"#
        )
    };
    let cases = [
        review(
            r#"{"spec": {"containers": [{"image": "icr.io/a:1", "image": null}]}}"#,
            "",
        ),
        review(
            r#"{"spec": {"containers": [{"image": "a"}], "containers": []}}"#,
            "",
        ),
        review(
            r#"{"spec": {"containers": [{"image": "a"}]}, "spec": {}}"#,
            "",
        ),
        review(
            r#"{"spec": {"volumes": [{"image": {"reference": "a", "reference": "b"}}]}}"#,
            "",
        ),
        review(
            r#"{"metadata": {"name": "p", "name": "q"}, "spec": {}}"#,
            "",
        ),
        review(r#"{"spec": {}}"#, r#""uid": "v","#),
        review(r#"{"spec": {}}"#, r#""object": {"spec": {}},"#),
        review(r#"{"spec": {}}"#, r#""operation": "DELETE","#),
    ];
    for body in &cases {
        let error = parse(body.as_bytes()).expect_err(body).error;
        assert!(
            matches!(&error, AdmissionError::DuplicateMember(m) if m.contains("is written twice")),
            "{body}: {error}"
        );
        assert!(
            error
                .to_string()
                .starts_with("the body is ambiguous: member \""),
            "{error}"
        );
    }
    // Members nothing reads are only checked for syntax, duplicates included.
    let unread = review(
        r#"{"spec": {"containers": [{"image": "a", "name": "x", "name": "y"}]}}"#,
        "",
    );
    assert_eq!(parse(unread.as_bytes()).expect("valid").sites[0].image, "a");
}

#[test]
fn skipped_members_are_checked_for_syntax_and_utf8() {
    let mut review = api_server_review();
    review["request"]["oldObject"] = json!("PLACEHOLDER");
    let body = serde_json::to_string(&review).expect("json");
    let with = |old: &str| body.replace("\"PLACEHOLDER\"", old).into_bytes();
    for broken in [&b"{\"a\": }"[..], b"[1,]", b"\"\\x\"", b"01"] {
        let broken = core::str::from_utf8(broken).expect("ascii");
        assert!(
            matches!(
                parse(&with(broken)).map_err(|e| e.error),
                Err(AdmissionError::NotJson(_))
            ),
            "{broken}"
        );
    }
    // A byte that is not UTF-8, in the skipped `oldObject`.
    let mut bad_utf8 = with("\"cafX\"");
    let at = bad_utf8
        .windows(4)
        .position(|w| w == b"cafX")
        .expect("placed")
        + 3;
    bad_utf8[at] = 0xff;
    assert!(matches!(
        parse(&bad_utf8).map_err(|e| e.error),
        Err(AdmissionError::NotJson(_))
    ));
    // Deeper than `Value` reads (128 levels), but nothing reads it: accepted.
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
    assert!(Request::parse(&with(&deep), &Options::default()).is_ok());
    // Kept members keep `Value`'s limits.
    let mut review = api_server_review();
    review["request"]["object"]["spec"]["containers"][0]["image"] = json!("PLACEHOLDER");
    let body = serde_json::to_string(&review)
        .expect("json")
        .replace("\"PLACEHOLDER\"", &deep);
    assert!(Request::parse(body.as_bytes(), &Options::default()).is_err());
}
