//! `portieris review` of a one-container Pod against a policy folder, as a real process.

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

/// The namespace every review and policy folder uses.
pub const NAMESPACE: &str = "team";

pub fn base64(bytes: impl AsRef<[u8]>) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A policy folder holding `docs` (policies, Secrets) as one multi-document YAML file.
pub struct Folder {
    dir: tempfile::TempDir,
}

impl Folder {
    pub fn new(docs: &[Value]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let text: Vec<String> = docs
            .iter()
            .map(|d| serde_json::to_string(d).expect("json"))
            .collect();
        std::fs::write(dir.path().join("policies.yaml"), text.join("\n---\n")).expect("write");
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// An ImagePolicy in [`NAMESPACE`] with these repository rules.
pub fn image_policy(repositories: Value) -> Value {
    json!({"apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ImagePolicy",
        "metadata": {"name": "policy", "namespace": NAMESPACE}, "spec": {"repositories": repositories}})
}

/// An Opaque Secret in [`NAMESPACE`].
pub fn secret(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": NAMESPACE},
        "stringData": data})
}

/// A `kubernetes.io/dockerconfigjson` Secret with one credential for `registry`.
pub fn pull_secret(name: &str, registry: &str, user: &str, password: &str) -> Value {
    let config = json!({"auths": {registry: {"auth": base64(format!("{user}:{password}"))}}});
    json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "stringData": {".dockerconfigjson": config.to_string()}})
}

/// What `portieris review` answered.
pub struct Reviewed {
    pub code: i32,
    pub response: Value,
    pub stderr: String,
}

impl Reviewed {
    pub fn message(&self) -> &str {
        self.response["response"]["status"]["message"]
            .as_str()
            .unwrap_or_default()
    }

    /// The image the JSON Patch rewrites the first container to.
    pub fn pinned(&self) -> Option<String> {
        use base64::Engine as _;
        let patch = self.response["response"]["patch"].as_str()?;
        let ops: Value = serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(patch)
                .ok()?,
        )
        .ok()?;
        ops[0]["value"].as_str().map(String::from)
    }

    /// The AdmissionResponse `warnings` (kubectl prints each as `Warning: …`).
    pub fn warnings(&self) -> Vec<String> {
        let warnings = self.response["response"]["warnings"].as_array();
        warnings
            .into_iter()
            .flatten()
            .filter_map(|w| w.as_str().map(String::from))
            .collect()
    }

    /// Whether the response carries a JSON Patch at all.
    pub fn has_patch(&self) -> bool {
        self.response["response"].get("patch").is_some()
    }

    /// `object` with the response's JSON Patch applied, as the API server applies it.
    pub fn patched(&self, object: &Value) -> Value {
        use base64::Engine as _;
        let mut object = object.clone();
        let Some(patch) = self.response["response"]["patch"].as_str() else {
            return object;
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(patch)
            .expect("the patch is base64");
        let ops: json_patch::Patch = serde_json::from_slice(&bytes).expect("a JSON Patch");
        json_patch::patch(&mut object, &ops).expect("the patch applies to the object");
        object
    }

    /// Panics with the whole answer unless admitted.
    pub fn assert_allowed(&self, what: &str) {
        assert_eq!(
            self.code, 0,
            "{what}: expected allowed: {} {}",
            self.response, self.stderr
        );
    }

    /// Panics with the whole answer unless denied with a message containing `reason`.
    pub fn assert_denied(&self, what: &str, reason: &str) {
        assert_eq!(
            self.code, 1,
            "{what}: expected denied: {} {}",
            self.response, self.stderr
        );
        assert!(
            self.message().contains(reason),
            "{what}: deny message lacks \"{reason}\": {}",
            self.message()
        );
    }
}

/// Reviews a Pod running `image` in [`NAMESPACE`] against the policy folder `policies`, with
/// `pull_secret` as its imagePullSecret if given, trusting the CA file `ca`.
pub fn review(
    policies: &Path,
    ca: &Path,
    image: &str,
    pull_secret: Option<&str>,
    extra: &[&str],
) -> Reviewed {
    review_object(policies, ca, &pod(image, pull_secret), extra)
}

/// A Pod named `p` running `image`, with `pull_secret` as its imagePullSecret if given.
pub fn pod(image: &str, pull_secret: Option<&str>) -> Value {
    let mut spec = json!({"containers": [{"name": "app", "image": image}]});
    if let Some(name) = pull_secret {
        spec["imagePullSecrets"] = json!([{ "name": name }]);
    }
    json!({"metadata": {"name": "p"}, "spec": spec})
}

/// Reviews the CREATE of Pod `object` in [`NAMESPACE`] against the policy folder `policies`,
/// trusting the CA file `ca`.
pub fn review_object(policies: &Path, ca: &Path, object: &Value, extra: &[&str]) -> Reviewed {
    let body = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "review", "kind": {"group": "", "version": "v1", "kind": "Pod"}, "namespace": NAMESPACE,
        "operation": "CREATE", "object": object}});
    let input = tempfile::NamedTempFile::new().expect("tempfile");
    std::fs::write(input.path(), body.to_string()).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_portieris"))
        .arg("review")
        .arg("--policy-dir")
        .arg(policies)
        .arg("--ca-file")
        .arg(ca)
        .args(extra)
        .arg(input.path())
        .output()
        .expect("portieris runs");
    Reviewed {
        code: out.status.code().expect("exit code"),
        response: serde_json::from_slice(&out.stdout).unwrap_or(Value::Null),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
