//! The loopback Kubernetes cluster of `scripts/kube.sh start` (etcd, kube-apiserver,
//! kube-controller-manager; no scheduler, no kubelet), the Helm chart, and `portieris serve`
//! processes in Kubernetes mode, for the end-to-end tests.

use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Output, Stdio};
use std::time::{Duration, Instant};

use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::{Namespace as NamespaceObject, ServiceAccount};
use kube::api::{
    Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams, PostParams,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use serde_json::{Value, json};

/// The webhook's name in `image-admission-config`.
pub const WEBHOOK: &str = "trust.hooks.securityenforcement.admission.cloud.ibm.com";
/// The label of every namespace the tests create.
pub const E2E_LABEL: &str = "portieris-e2e";
const POLL: Duration = Duration::from_millis(100);

/// The cluster `scripts/kube.sh start` wrote to `$PORTIERIS_KUBE_DIR` (default
/// `/tmp/portieris-kube`).
#[derive(Clone)]
pub struct Cluster {
    dir: PathBuf,
}

impl Cluster {
    /// Panics, saying how to start it, when there is no cluster: tests never skip silently.
    pub fn get() -> Self {
        let dir = PathBuf::from(
            std::env::var("PORTIERIS_KUBE_DIR").unwrap_or_else(|_| "/tmp/portieris-kube".into()),
        );
        let kubeconfig = dir.join("kubeconfig");
        assert!(
            kubeconfig.is_file() && dir.join("bin/helm").exists(),
            "no Kubernetes cluster at {} (no kubeconfig or bin/helm): start it: scripts/kube.sh start",
            dir.display()
        );
        Self { dir }
    }

    /// The API server's version, from the cached binary's folder (`…/kube-v1.34.4/`). Helm
    /// built by `go install` tells templates it is Kubernetes v1.20 (its version is set by
    /// ldflags in releases), so `helm template` and `helm lint` are given this one.
    pub fn kube_version(&self) -> String {
        let target = std::fs::read_link(self.dir.join("bin/kube-apiserver"))
            .expect("bin/kube-apiserver is a link into the build cache");
        let folder = target
            .parent()
            .and_then(Path::file_name)
            .and_then(|name| name.to_str())
            .expect("a cache folder name");
        folder
            .strip_prefix("kube-")
            .unwrap_or_else(|| panic!("cache folder {folder} is not kube-<version>"))
            .to_string()
    }

    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// A scratch folder inside the cluster's state, kept after the tests for their logs.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let dir = self.dir.join("e2e").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("scratch folder");
        dir
    }

    /// A cluster-admin client.
    pub async fn client(&self) -> Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let kubeconfig = Kubeconfig::read_from(self.kubeconfig()).expect("kubeconfig readable");
        let config = Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .expect("kubeconfig usable");
        Client::try_from(config).expect("client")
    }

    /// `program` (a name from the cluster's bin/ first: helm, kubectl) with the cluster's
    /// kubeconfig, in `cwd`.
    pub fn command(&self, program: &str, cwd: &Path) -> Command {
        let path = std::env::var("PATH").unwrap_or_default();
        let mut command = Command::new(program);
        command
            .current_dir(cwd)
            .env("PATH", format!("{}:{path}", self.dir.join("bin").display()))
            .env("KUBECONFIG", self.kubeconfig())
            .env("HELM_CACHE_HOME", self.dir.join("helm/cache"))
            .env("HELM_CONFIG_HOME", self.dir.join("helm/config"))
            .env("HELM_DATA_HOME", self.dir.join("helm/data"))
            .stdin(Stdio::null());
        command
    }

    /// Runs `helm ARGS` in `cwd` and returns its output, whatever the exit status.
    pub fn helm(&self, cwd: &Path, args: &[&str]) -> Output {
        self.command("helm", cwd)
            .args(args)
            .output()
            .expect("helm runs")
    }

    /// Runs `helm ARGS` and panics with its output unless it succeeds.
    pub fn helm_ok(&self, cwd: &Path, args: &[&str]) -> String {
        let output = self.helm(cwd, args);
        assert!(
            output.status.success(),
            "helm {} failed:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// A kubeconfig that authenticates as a ServiceAccount, with a token from the TokenRequest
    /// API: what `portieris serve` would get in the pod, so that the chart's RBAC is what it
    /// runs with.
    pub async fn service_account_kubeconfig(
        &self,
        client: &Client,
        namespace: &str,
        name: &str,
        file: &Path,
    ) {
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), namespace);
        let request = TokenRequest {
            spec: TokenRequestSpec {
                expiration_seconds: Some(3600),
                ..Default::default()
            },
            ..Default::default()
        };
        let token = accounts
            .create_token_request(name, &PostParams::default(), &request)
            .await
            .expect("a token for the ServiceAccount")
            .status
            .expect("token status")
            .token;
        let admin = documents(&std::fs::read_to_string(self.kubeconfig()).expect("kubeconfig"))
            .into_iter()
            .next()
            .expect("kubeconfig YAML");
        let cluster = &admin["clusters"][0]["cluster"];
        let config = json!({
            "apiVersion": "v1", "kind": "Config",
            "clusters": [{"name": "c", "cluster": {
                "server": cluster["server"].as_str().expect("server"),
                "certificate-authority-data": cluster["certificate-authority-data"].as_str().expect("CA"),
            }}],
            "users": [{"name": "u", "user": {"token": token}}],
            "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
            "current-context": "c",
        });
        std::fs::write(file, config.to_string()).expect("kubeconfig written");
    }
}

/// `charts/portieris` of this repository.
pub fn chart_source() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/portieris")
}

/// `charts/cleanup.sh` of this repository.
pub fn cleanup_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/cleanup.sh")
}

/// The chart as a user unpacks it: `<dir>/portieris`, without any certificates.
pub struct ChartCopy {
    dir: PathBuf,
    /// Removes the copy (and the keys gencerts writes into it) when dropped.
    _temporary: Option<tempfile::TempDir>,
}

impl ChartCopy {
    /// A copy in a temporary folder.
    pub fn new() -> Self {
        let temporary = tempfile::tempdir().expect("tempdir");
        let mut copy = Self::at(temporary.path());
        copy._temporary = Some(temporary);
        copy
    }

    /// A copy in `dir` (replacing what is there), kept after the tests.
    pub fn at(dir: &Path) -> Self {
        let chart = dir.join("portieris");
        let _ = std::fs::remove_dir_all(&chart);
        copy_tree(&chart_source(), &chart);
        Self {
            dir: dir.to_path_buf(),
            _temporary: None,
        }
    }

    /// The folder holding `portieris/`: where the install steps run.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn certs(&self) -> PathBuf {
        self.dir.join("portieris/certs")
    }

    /// `sh ./portieris/gencerts ARGS`, exactly as the install steps say.
    pub fn gencerts(&self, args: &[&str]) {
        let output = Command::new("sh")
            .arg("./portieris/gencerts")
            .args(args)
            .current_dir(self.dir())
            .output()
            .expect("sh runs");
        assert!(
            output.status.success(),
            "gencerts {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    pub fn ca_pem(&self) -> String {
        std::fs::read_to_string(self.certs().join("ca.crt")).expect("certs/ca.crt")
    }

    /// `helm template portieris ./portieris --namespace NS ARGS`: every rendered object.
    pub fn template(
        &self,
        cluster: &Cluster,
        namespace: &str,
        args: &[&str],
    ) -> Result<Vec<Value>, String> {
        let version = cluster.kube_version();
        let mut full = vec![
            "template",
            "portieris",
            "./portieris",
            "--namespace",
            namespace,
            "--kube-version",
            &version,
        ];
        full.extend_from_slice(args);
        let output = cluster.helm(self.dir(), &full);
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).into_owned());
        }
        Ok(documents(&String::from_utf8_lossy(&output.stdout)))
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("chart folder");
    for entry in std::fs::read_dir(from).expect("chart readable") {
        let entry = entry.expect("entry");
        let name = entry.file_name();
        let target = to.join(&name);
        if entry.file_type().expect("file type").is_dir() {
            if name != "certs" {
                copy_tree(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), &target).expect("chart file copied");
        }
    }
}

/// The non-empty documents of a multi-document YAML stream, as JSON values.
pub fn documents(yaml: &str) -> Vec<Value> {
    let stream = portieris_webhook::policy_dir::read_yaml(yaml);
    if let Some((number, error)) = stream.error {
        panic!("YAML document {number}: {error}");
    }
    stream.documents.into_iter().map(|d| d.value).collect()
}

/// The one rendered object of `kind` named `name`.
pub fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} rendered"))
}

/// The eight workload kinds Portieris admits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pod,
    Deployment,
    ReplicaSet,
    DaemonSet,
    StatefulSet,
    ReplicationController,
    Job,
    CronJob,
}

impl Kind {
    pub const ALL: [Kind; 8] = [
        Kind::Pod,
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::DaemonSet,
        Kind::StatefulSet,
        Kind::ReplicationController,
        Kind::Job,
        Kind::CronJob,
    ];

    /// The kinds with a `replicas` field.
    pub const SCALABLE: [Kind; 4] = [
        Kind::Deployment,
        Kind::ReplicaSet,
        Kind::StatefulSet,
        Kind::ReplicationController,
    ];

    pub fn resource(self) -> ApiResource {
        let (group, version, kind, plural) = match self {
            Kind::Pod => ("", "v1", "Pod", "pods"),
            Kind::Deployment => ("apps", "v1", "Deployment", "deployments"),
            Kind::ReplicaSet => ("apps", "v1", "ReplicaSet", "replicasets"),
            Kind::DaemonSet => ("apps", "v1", "DaemonSet", "daemonsets"),
            Kind::StatefulSet => ("apps", "v1", "StatefulSet", "statefulsets"),
            Kind::ReplicationController => {
                ("", "v1", "ReplicationController", "replicationcontrollers")
            }
            Kind::Job => ("batch", "v1", "Job", "jobs"),
            Kind::CronJob => ("batch", "v1", "CronJob", "cronjobs"),
        };
        ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(group, version, kind), plural)
    }

    /// Lower-case name, usable in object names.
    pub fn slug(self) -> &'static str {
        match self {
            Kind::Pod => "pod",
            Kind::Deployment => "deployment",
            Kind::ReplicaSet => "replicaset",
            Kind::DaemonSet => "daemonset",
            Kind::StatefulSet => "statefulset",
            Kind::ReplicationController => "replicationcontroller",
            Kind::Job => "job",
            Kind::CronJob => "cronjob",
        }
    }

    /// JSON pointer of the pod spec inside an object of this kind.
    pub fn pod_spec(self) -> &'static str {
        match self {
            Kind::Pod => "/spec",
            Kind::CronJob => "/spec/jobTemplate/spec/template/spec",
            _ => "/spec/template/spec",
        }
    }

    /// An object of this kind named `name` running `image` (an init container and a
    /// container), with `replicas` where the kind has them.
    pub fn object(self, name: &str, image: &str, replicas: Option<i32>) -> Value {
        let labels = json!({"app": name});
        let restart = match self {
            Kind::Job | Kind::CronJob => "Never",
            _ => "Always",
        };
        let pod_spec = json!({
            "restartPolicy": restart,
            "initContainers": [{"name": "init", "image": image}],
            "containers": [{"name": "main", "image": image}],
        });
        let template = json!({"metadata": {"labels": labels}, "spec": pod_spec});
        let resource = self.resource();
        let mut object = json!({
            "apiVersion": resource.api_version, "kind": resource.kind,
            "metadata": {"name": name, "labels": labels},
        });
        object["spec"] = match self {
            Kind::Pod => pod_spec,
            Kind::Deployment | Kind::ReplicaSet | Kind::DaemonSet => {
                json!({"selector": {"matchLabels": labels}, "template": template})
            }
            Kind::StatefulSet => json!({
                "serviceName": name, "selector": {"matchLabels": labels}, "template": template,
            }),
            Kind::ReplicationController => json!({"selector": labels, "template": template}),
            Kind::Job => json!({"template": template}),
            // Never due while the tests run, and suspended anyway.
            Kind::CronJob => json!({
                "schedule": "0 0 1 1 *", "suspend": true,
                "jobTemplate": {"spec": {"template": template}},
            }),
        };
        if let Some(replicas) = replicas {
            object["spec"]["replicas"] = json!(replicas);
        }
        object
    }

    /// The images of an object of this kind: init containers, then containers.
    pub fn images(self, object: &Value) -> Vec<String> {
        let spec = object.pointer(self.pod_spec()).expect("a pod spec");
        ["initContainers", "containers", "ephemeralContainers"]
            .iter()
            .flat_map(|list| spec[*list].as_array().cloned().unwrap_or_default())
            .map(|c| c["image"].as_str().expect("image").to_string())
            .collect()
    }
}

/// A namespace of one test, labelled `portieris-e2e=true` so that the next run deletes it.
pub struct Namespace {
    pub name: String,
    client: Client,
}

impl Namespace {
    /// A new namespace `<prefix>-<unique>` with `labels`, ready for pods (its `default`
    /// ServiceAccount exists).
    pub async fn new(client: &Client, prefix: &str, mut labels: Value) -> Self {
        labels[E2E_LABEL] = json!("true");
        let unique = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_nanos()
            % 1_000_000_000;
        let name = format!("{prefix}-{unique}");
        let namespaces: Api<NamespaceObject> = Api::all(client.clone());
        let object: NamespaceObject =
            serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}}))
                .expect("namespace object");
        namespaces
            .create(&PostParams::default(), &object)
            .await
            .expect("namespace created");
        let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), &name);
        wait_until(
            Duration::from_secs(30),
            "the default ServiceAccount",
            || {
                let accounts = accounts.clone();
                async move { accounts.get_opt("default").await.ok().flatten().is_some() }
            },
        )
        .await;
        Self {
            name,
            client: client.clone(),
        }
    }

    /// A handle on a namespace that exists (not labelled, not created here).
    pub fn existing(client: &Client, name: &str) -> Self {
        Self {
            name: name.to_string(),
            client: client.clone(),
        }
    }

    pub fn api(&self, kind: Kind) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), &self.name, &kind.resource())
    }

    pub fn dynamic(&self, resource: &ApiResource) -> Api<DynamicObject> {
        Api::namespaced_with(self.client.clone(), &self.name, resource)
    }

    /// Creates `object` (of `kind`); `dry_run` runs admission without storing it.
    pub async fn create(
        &self,
        kind: Kind,
        object: &Value,
        dry_run: bool,
    ) -> Result<Value, kube::Error> {
        let object: DynamicObject = serde_json::from_value(object.clone()).expect("an object");
        let params = PostParams {
            dry_run,
            ..Default::default()
        };
        let created = self.api(kind).create(&params, &object).await?;
        Ok(serde_json::to_value(created).expect("JSON"))
    }

    pub async fn get(&self, kind: Kind, name: &str) -> Value {
        let object = self.api(kind).get(name).await.expect("object readable");
        serde_json::to_value(object).expect("JSON")
    }

    /// Creates or replaces the ImagePolicy `name` with these repositories.
    pub async fn set_image_policy(&self, name: &str, repositories: Value) {
        let policy = json!({
            "apiVersion": "portieris.cloud.ibm.com/v1", "kind": "ImagePolicy",
            "metadata": {"name": name, "namespace": self.name},
            "spec": {"repositories": repositories},
        });
        self.apply(&image_policies(), name, &policy).await;
    }

    /// Server-side apply of one object of this namespace.
    pub async fn apply(&self, resource: &ApiResource, name: &str, object: &Value) {
        let params = PatchParams::apply("portieris-e2e").force();
        self.dynamic(resource)
            .patch(name, &params, &Patch::Apply(object))
            .await
            .unwrap_or_else(|e| panic!("{} {name} applied: {e}", resource.kind));
    }

    /// Creates or replaces the Secret `name` with these string data.
    pub async fn set_secret(&self, name: &str, data: Value) {
        let secret = json!({
            "apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": name, "namespace": self.name},
            "stringData": data,
        });
        let resource = ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("", "v1", "Secret"),
            "secrets",
        );
        self.apply(&resource, name, &secret).await;
    }

    /// What admission says about a Pod running `image` now (a dry run: nothing is stored):
    /// the admitted pod's image, or the refusal.
    pub async fn probe(&self, image: &str) -> Result<String, String> {
        let pod = Kind::Pod.object("probe", image, None);
        match self.create(Kind::Pod, &pod, true).await {
            Ok(admitted) => Ok(Kind::Pod.images(&admitted)[1].clone()),
            Err(error) => Err(error.to_string()),
        }
    }

    /// Polls [`Namespace::probe`] until `expected` holds for it; returns how long that took.
    pub async fn wait_for_probe(
        &self,
        image: &str,
        what: &str,
        expected: impl Fn(&Result<String, String>) -> bool,
    ) -> Duration {
        let start = Instant::now();
        let deadline = Duration::from_secs(20);
        loop {
            let outcome = self.probe(image).await;
            if expected(&outcome) {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < deadline,
                "{what}: not within {deadline:?}; last answer for {image}: {outcome:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }
}

pub fn image_policies() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("portieris.cloud.ibm.com", "v1", "ImagePolicy"),
        "imagepolicies",
    )
}

pub fn cluster_image_policies() -> ApiResource {
    ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("portieris.cloud.ibm.com", "v1", "ClusterImagePolicy"),
        "clusterimagepolicies",
    )
}

/// The refusal message of a webhook deny; panics on success or any other error.
pub fn denied<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> String {
    match result {
        Err(kube::Error::Api(status)) => {
            let prefix = format!("admission webhook \"{WEBHOOK}\" denied the request");
            assert!(
                status.message.contains(&prefix),
                "refused, but not by portieris: {status:?}"
            );
            status.message.clone()
        }
        other => panic!("expected portieris to deny, got {other:?}"),
    }
}

/// Polls `condition` every 100 ms until it holds; panics after `deadline`.
pub async fn wait_until<F, Fut>(deadline: Duration, what: &str, condition: F) -> Duration
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = Instant::now();
    while !condition().await {
        assert!(
            start.elapsed() < deadline,
            "{what}: not within {deadline:?}"
        );
        tokio::time::sleep(POLL).await;
    }
    start.elapsed()
}

/// A `portieris serve` process in Kubernetes mode (no `--policy-dir`). It runs under a
/// `sh` watchdog that kills it when its stdin closes, so that it also ends when the test
/// process ends without running destructors (a static fixture, a crash).
pub struct Portieris {
    watchdog: Child,
    stdin: Option<ChildStdin>,
    pub log: PathBuf,
    /// Bytes of the log written by earlier processes.
    skip: u64,
    pub port: u16,
}

impl Portieris {
    /// Starts `portieris serve` on 127.0.0.1:`port` with the TLS pair in `certs` (gencerts),
    /// the cluster credentials in `kubeconfig`, and `ca_file` for outbound HTTPS; waits until
    /// it serves (its policies are then loaded).
    pub async fn start(
        kubeconfig: &Path,
        certs: &Path,
        ca_file: &Path,
        port: u16,
        log: PathBuf,
    ) -> Self {
        // Appended: a restarted server keeps the log of the ones before it.
        let log_file = std::fs::File::options()
            .create(true)
            .append(true)
            .open(&log)
            .expect("log file");
        let skip = log_file.metadata().map(|m| m.len()).unwrap_or(0);
        let mut watchdog = Command::new("sh")
            .args([
                "-c",
                r#""$@" </dev/null & child=$!; read -r _ || true; kill "$child" 2>/dev/null; wait "$child""#,
                "portieris-watchdog",
                env!("CARGO_BIN_EXE_portieris"),
                "--log-format",
                "json",
                "serve",
                "--listen",
            ])
            .arg(format!("127.0.0.1:{port}"))
            .args(["--metrics-listen", "127.0.0.1:0", "--reload-interval", "1s"])
            .arg("--tls-cert")
            .arg(certs.join("tls.crt"))
            .arg("--tls-key")
            .arg(certs.join("tls.key"))
            .arg("--ca-file")
            .arg(ca_file)
            // Loopback only: no refresh of the default Sigstore root from the Internet.
            .args(["--sigstore-tuf-url", "none"])
            .env("KUBECONFIG", kubeconfig)
            .env_remove("PORTIERIS_POLICY_DIR")
            .env_remove("KUBERNETES_SERVICE_HOST")
            .env("PORTIERIS_LOG", "info,portieris_webhook=debug")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("portieris starts");
        let stdin = watchdog.stdin.take();
        let mut process = Self {
            watchdog,
            stdin,
            log,
            skip,
            port,
        };
        process.wait_listening().await;
        process
    }

    async fn wait_listening(&mut self) {
        let start = Instant::now();
        loop {
            let log = self.log_text();
            if log.lines().any(|line| line.contains("\"listening\"")) {
                return;
            }
            if let Some(status) = self.watchdog.try_wait().expect("child status") {
                panic!("portieris exited with {status}:\n{log}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(70),
                "portieris not listening in time:\n{log}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// What this process logged.
    pub fn log_text(&self) -> String {
        let text = std::fs::read(&self.log).unwrap_or_default();
        let mine = text
            .get(usize::try_from(self.skip).unwrap_or(0)..)
            .unwrap_or_default();
        String::from_utf8_lossy(mine).into_owned()
    }

    /// Stops it (the watchdog kills it) and waits for both.
    pub fn stop(&mut self) {
        self.stdin.take();
        let _ = self.watchdog.wait();
    }
}

impl Drop for Portieris {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port on 127.0.0.1 that was free a moment ago: the webhook URL must be known before
/// `portieris serve` can start (it needs the chart's CRDs and ServiceAccount).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
