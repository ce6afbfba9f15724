//! Test harness: a real moto server on a free loopback port, SDK clients pointed at
//! it, and helpers to create buckets and objects.
//!
//! Every test binary that needs AWS starts its own [`MotoServer`]; it is killed by PID
//! when dropped. The moto executable comes from `TRAINGUARD_MOTO_SERVER` or the
//! project's virtualenv (`.venv/bin/moto_server`, made by `scripts/setup.sh`). If it is
//! missing the test fails with a message saying how to install it: a test that needs
//! moto never passes silently without it.
//!
//! HTTP without an HTTP crate: [`http_client`] is the one client (moto's own API, the e2e
//! router), [`lambda_router`] the one in-process server and Lambda Invoke router.

pub mod api_gateway;
pub mod coverage;
pub mod http_client;
pub mod json_shape;
pub mod lambda_router;
pub mod local_stack;
pub mod rendezvous;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use trainguard::aws::Clients;

/// The workspace root (parent of `tests/`), resolved when the test runs.
///
/// Never `env!("CARGO_MANIFEST_DIR")`: with one `CARGO_TARGET_DIR` shared by several
/// checkouts, cargo reuses a test binary built in another checkout as long as this one's
/// sources look older, and a path baked in at compile time then points at the other
/// (possibly deleted) checkout's `.venv`. `cargo test` sets the variable for the test
/// process as well; without it (a binary run by hand) the current directory is searched
/// upwards for the workspace manifest.
pub fn workspace_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") {
        if let Some(root) = Path::new(&dir).parent() {
            return root.to_path_buf();
        }
    }
    let cwd = std::env::current_dir().expect("current directory");
    cwd.ancestors()
        .find(|d| {
            std::fs::read_to_string(d.join("Cargo.toml"))
                .map(|t| t.contains("[workspace]"))
                .unwrap_or(false)
        })
        .unwrap_or(&cwd)
        .to_path_buf()
}

/// A directory for test output that survives the run (screenshots, reports):
/// `target/test-output/<name>` under `CARGO_TARGET_DIR` or the workspace.
pub fn output_dir(name: &str) -> PathBuf {
    let base = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("target"));
    let dir = base.join("test-output").join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Path of the moto_server executable.
pub fn moto_executable() -> PathBuf {
    if let Ok(p) = std::env::var("TRAINGUARD_MOTO_SERVER") {
        return PathBuf::from(p);
    }
    workspace_root().join(".venv/bin/moto_server")
}

/// A free TCP port on loopback (bind to 0, read it, release it).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    l.local_addr().unwrap().port()
}

/// A moto server process, killed on drop.
pub struct MotoServer {
    child: Child,
    pub port: u16,
    pub endpoint: String,
    /// The harness's credentials: `testing` on a plain moto, the admin user's keys on one
    /// started with [`MotoServer::start_with_iam`].
    harness: AwsKeys,
}

/// Credentials for moto: an access key, its secret, and a session token for a role session.
#[derive(Debug, Clone)]
pub struct AwsKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl AwsKeys {
    fn from_json(v: &serde_json::Value) -> AwsKeys {
        AwsKeys {
            access_key_id: v["access_key_id"].as_str().expect("access_key_id").into(),
            secret_access_key: v["secret_access_key"]
                .as_str()
                .expect("secret_access_key")
                .into(),
            session_token: v["session_token"].as_str().map(str::to_string),
        }
    }

    /// The environment variables that make a child process (a binary, the CLI) use them.
    pub fn env(&self) -> Vec<(String, String)> {
        let mut env = vec![
            ("AWS_ACCESS_KEY_ID".into(), self.access_key_id.clone()),
            (
                "AWS_SECRET_ACCESS_KEY".into(),
                self.secret_access_key.clone(),
            ),
        ];
        if let Some(t) = &self.session_token {
            env.push(("AWS_SESSION_TOKEN".into(), t.clone()));
        }
        env
    }
}

impl MotoServer {
    /// Start moto on a free loopback port and wait until it answers.
    pub fn start() -> MotoServer {
        Self::start_with_env(&[])
    }

    /// Start moto with extra environment (e.g. `MOTO_PORT` pointing its Step Functions
    /// interpreter at a router).
    pub fn start_with_env(env: &[(&str, &str)]) -> MotoServer {
        let exe = moto_executable();
        assert!(
            exe.exists(),
            "moto server not found at {} — run `scripts/setup.sh` (or set TRAINGUARD_MOTO_SERVER)",
            exe.display()
        );
        // A port found free can be taken by another process before moto binds it (tests
        // run in parallel); moto then exits at once, and another port is tried.
        let mut last_port = 0;
        for _ in 0..5 {
            let port = free_port();
            last_port = port;
            let mut cmd = Command::new(&exe);
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            for (k, v) in env {
                cmd.env(k, v);
            }
            let child = cmd.spawn().expect("spawn moto_server");
            let mut server = MotoServer {
                child,
                port,
                endpoint: format!("http://127.0.0.1:{port}"),
                harness: AwsKeys {
                    access_key_id: "testing".into(),
                    secret_access_key: "testing".into(),
                    session_token: None,
                },
            };
            if server.wait_ready() {
                return server;
            }
        }
        panic!("moto did not start (last port tried: {last_port})");
    }

    /// Wait until this server answers; false when the process exited first (its port was
    /// taken). Only a live child that accepts connections counts.
    fn wait_ready(&mut self) -> bool {
        let start = Instant::now();
        loop {
            if self.child.try_wait().ok().flatten().is_some() {
                return false;
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                // Someone answers; make sure it is still our child that is alive.
                std::thread::sleep(Duration::from_millis(50));
                if self.child.try_wait().ok().flatten().is_none() {
                    return true;
                }
                return false;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "moto did not start on port {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Environment variables that point a child process (a handler binary, the CLI) at
    /// this server, with the harness's credentials.
    pub fn env(&self) -> Vec<(String, String)> {
        self.env_as(&self.harness)
    }

    /// [`MotoServer::env`] with other credentials (a role session of [`MotoServer::role`]).
    pub fn env_as(&self, keys: &AwsKeys) -> Vec<(String, String)> {
        let mut env = vec![
            ("AWS_ENDPOINT_URL".into(), self.endpoint.clone()),
            ("AWS_REGION".into(), "us-east-1".into()),
            ("AWS_DEFAULT_REGION".into(), "us-east-1".into()),
            ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
        ];
        env.extend(keys.env());
        env
    }

    /// SDK configuration pointed at this server (no process environment touched), as the
    /// harness.
    pub async fn sdk_config(&self) -> SdkConfig {
        self.sdk_config_as(&self.harness).await
    }

    /// SDK configuration pointed at this server with these credentials.
    pub async fn sdk_config_as(&self, keys: &AwsKeys) -> SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                keys.access_key_id.clone(),
                keys.secret_access_key.clone(),
                keys.session_token.clone(),
                None,
                "moto",
            ))
            .load()
            .await
    }

    /// trainguard's clients pointed at this server, as the harness.
    pub async fn clients(&self) -> Clients {
        Clients::from_config(self.sdk_config().await)
    }

    /// trainguard's clients pointed at this server with these credentials (a function's
    /// role session).
    pub async fn clients_as(&self, keys: &AwsKeys) -> Clients {
        Clients::from_config(self.sdk_config_as(keys).await)
    }

    /// moto with IAM enforced, as on AWS: every request must be signed by an identity of
    /// this moto and is judged against its policies (moto's "IAM-like access control": the
    /// action always, the resource for S3 and SQS; see tests/e2e/iam.py). The harness is an
    /// admin user (its set-up and reads); a test that plays a function gets that function's
    /// template role from [`MotoServer::role`].
    pub fn start_with_iam() -> MotoServer {
        // AWSLambdaBasicExecutionRole, which SAM attaches to every function role.
        let mut moto = Self::start_with_env(&[("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")]);
        moto.harness = AwsKeys::from_json(&moto.iam_py(&["admin"], None));
        moto.iam_py(&["auth", "on"], None);
        moto
    }

    /// A session of the template's role of `role` (a function's binary name, or `pipeline`)
    /// created in this moto from template.yaml, minus the actions in `without`; `names` are
    /// the Ref / Logical.Attr values of the stack's resources its policies name
    /// (tests/e2e/iam.py `role --name`), `bucket` the artifacts bucket. The role is assumed
    /// as Lambda assumes it (moto's auth is off for that one call: the service principal in
    /// the trust policy is no principal of this account).
    pub fn role(
        &self,
        role: &str,
        bucket: &str,
        names: &[(&str, &str)],
        without: &[&str],
    ) -> AwsKeys {
        let mut args = vec![
            "role".to_string(),
            role.to_string(),
            "--bucket".into(),
            bucket.into(),
        ];
        for (k, v) in names {
            args.extend(["--name".into(), format!("{k}={v}")]);
        }
        for a in without {
            args.extend(["--without".into(), a.to_string()]);
        }
        self.iam_py(&["auth", "off"], None);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let keys = AwsKeys::from_json(&self.iam_py(&args, None));
        self.iam_py(&["auth", "on"], None);
        keys
    }

    /// Run tests/e2e/iam.py against this moto; its JSON output (null when it prints none).
    fn iam_py(&self, args: &[&str], keys: Option<&AwsKeys>) -> serde_json::Value {
        let root = workspace_root();
        let mut cmd = Command::new(root.join(".venv/bin/python"));
        cmd.arg(root.join("tests/e2e/iam.py"))
            .args(["--endpoint", &self.endpoint]);
        if let Some(k) = keys {
            cmd.args(["--key", &k.access_key_id, "--secret", &k.secret_access_key]);
        }
        let out = cmd.args(args).output().expect("run tests/e2e/iam.py");
        assert!(
            out.status.success(),
            "iam.py {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        if text.trim().is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_str(&text).expect("iam.py prints JSON")
        }
    }

    /// Turn on moto's Step Functions interpreter.
    pub async fn enable_sfn_execution(&self) {
        self.post_json(
            "/moto-api/config",
            r#"{"stepfunctions":{"execute_state_machine":true}}"#,
        )
        .await;
    }

    /// POST a JSON body to a moto path; panics unless moto answers 2xx. Returns the
    /// whole reply.
    pub async fn post_json(&self, path: &str, body: &str) -> String {
        let reply = http_client::post_json(&self.endpoint, path, body, &[]).await;
        assert!(
            (200..300).contains(&reply.status),
            "moto {path}: {}",
            reply.raw
        );
        reply.raw
    }

    /// GET a moto path (e.g. `/moto-api/data.json`); the body, de-chunked.
    pub async fn get(&self, path: &str) -> String {
        http_client::get(&self.endpoint, path).await.body
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A bucket name unique to this test run.
pub fn unique_bucket(prefix: &str) -> String {
    use rand::Rng;
    let n: u32 = rand::thread_rng().gen();
    format!("{prefix}-{n:08x}").to_lowercase()
}

/// A fresh moto server, its clients, and a new bucket named after `prefix`: the usual
/// start of a moto test. Keep the server alive for the test (it stops on drop).
pub async fn moto_with_bucket(prefix: &str) -> (MotoServer, Clients, String) {
    let moto = MotoServer::start();
    let clients = moto.clients().await;
    let bucket = unique_bucket(prefix);
    create_bucket(&clients, &bucket).await;
    (moto, clients, bucket)
}

/// Create a bucket.
pub async fn create_bucket(clients: &Clients, bucket: &str) {
    clients
        .s3
        .create_bucket()
        .bucket(bucket)
        .send()
        .await
        .expect("create bucket");
}

/// Put an object.
pub async fn put_object(clients: &Clients, bucket: &str, key: &str, body: impl Into<Vec<u8>>) {
    clients
        .s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(body.into().into())
        .send()
        .await
        .expect("put object");
}

/// Read an object, None when missing.
pub async fn get_object(clients: &Clients, bucket: &str, key: &str) -> Option<Vec<u8>> {
    match clients.s3.get_object().bucket(bucket).key(key).send().await {
        Ok(o) => Some(o.body.collect().await.unwrap().into_bytes().to_vec()),
        Err(_) => None,
    }
}

/// Every key under a prefix.
pub async fn list_keys(clients: &Clients, bucket: &str, prefix: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let mut pages = clients
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(p) = pages.next().await {
        for o in p.expect("list").contents() {
            keys.push(o.key().unwrap().to_string());
        }
    }
    keys
}

/// Path of a workspace binary built by cargo (debug profile under the target dir).
pub fn binary_path(name: &str) -> PathBuf {
    let base = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("target"));
    base.join("debug").join(name)
}
