//! The end-to-end stack (tests/e2e/stack.py: moto with IAM enforced, the router, `cargo lambda
//! watch` serving the real binaries) for tests of their own, beside the pipeline e2e.
//!
//! [`LocalStack::start`] runs the stack in an output directory of its own and reads what it
//! made (`stack.json`); dropping it closes the stack's stdin, and the stack stops every
//! process it started. The harness talks to moto as the stack's admin user (its own set-up
//! and reads); the functions call AWS with their template roles only (see stack.py).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use serde_json::Value;

use crate::{binary_path, http_client, output_dir, workspace_root};

/// A running stack; stopped on drop.
pub struct LocalStack {
    child: Option<Child>,
    /// stack.py's `--out`: endpoints, names, the admin user, the async-invoke settings.
    pub info: Value,
    /// Where its logs are (router.log shows every denial and asynchronous attempt).
    pub log_dir: PathBuf,
}

impl LocalStack {
    /// Start the stack in `target/test-output/<name>/` and wait until it is up.
    pub async fn start(name: &str) -> LocalStack {
        let root = workspace_root();
        let python = root.join(".venv/bin/python");
        assert!(
            python.exists(),
            "{} missing: run scripts/setup.sh",
            python.display()
        );
        for bin in ["saga-compensator", "pipeline-trigger"] {
            let p = binary_path(bin);
            assert!(
                p.exists(),
                "{} missing: cargo build --workspace --bins first",
                p.display()
            );
        }
        let dir = output_dir(name);
        let out = dir.join("stack.json");
        let _ = std::fs::remove_file(&out);
        let log_dir = dir.join("logs");
        let child = Command::new(&python)
            .arg(root.join("tests/e2e/stack.py"))
            .args(["--out", out.to_str().unwrap()])
            .args(["--log-dir", log_dir.to_str().unwrap()])
            .current_dir(&root)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start tests/e2e/stack.py");
        let mut stack = LocalStack {
            child: Some(child),
            info: Value::Null,
            log_dir,
        };
        let t0 = Instant::now();
        while !out.exists() {
            let exited = stack.child.as_mut().unwrap().try_wait().unwrap();
            assert!(
                exited.is_none(),
                "stack.py exited: {exited:?}; logs in {}",
                stack.log_dir.display()
            );
            assert!(
                t0.elapsed() < Duration::from_secs(600),
                "stack did not start in 10 minutes"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        stack.info = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
        stack
    }

    fn s(&self, key: &str) -> &str {
        self.info[key]
            .as_str()
            .unwrap_or_else(|| panic!("stack.json: no {key}"))
    }

    /// SDK configuration for the harness: moto directly, as the stack's admin user.
    pub async fn admin_config(&self) -> SdkConfig {
        let admin = &self.info["admin"];
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(self.s("moto_endpoint"))
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_sdk_s3::config::Credentials::new(
                admin["access_key_id"].as_str().unwrap(),
                admin["secret_access_key"].as_str().unwrap(),
                None,
                None,
                "local-stack-harness",
            ))
            .load()
            .await
    }

    /// Invoke a function as Step Functions does (Invoke API through the router):
    /// (succeeded, payload).
    pub async fn invoke(&self, function: &str, payload: &Value) -> (bool, Value) {
        let reply = http_client::post_json(
            self.s("router_endpoint"),
            &format!("/2015-03-31/functions/{function}/invocations"),
            &payload.to_string(),
            &[],
        )
        .await;
        assert_eq!(reply.status, 200, "invoke {function}: {}", reply.raw);
        let failed = reply.header("x-amz-function-error").is_some();
        (
            !failed,
            serde_json::from_str(&reply.body).unwrap_or(Value::String(reply.body)),
        )
    }

    /// Invoke a function asynchronously (`X-Amz-Invocation-Type: Event`, as S3 and
    /// EventBridge do): the HTTP status Lambda answers (202 when queued).
    pub async fn invoke_async(&self, function: &str, payload: &Value) -> u16 {
        http_client::post_json(
            self.s("router_endpoint"),
            &format!("/2015-03-31/functions/{function}/invocations"),
            &payload.to_string(),
            &[("X-Amz-Invocation-Type", "Event")],
        )
        .await
        .status
    }

    /// Remove one action from a live template role (`trainguard-<role>`), as the admin user:
    /// the role's sessions are judged against the reduced policy from the next request on.
    pub fn revoke(&self, role: &str, action: &str) {
        let admin = &self.info["admin"];
        let root = workspace_root();
        let out = Command::new(root.join(".venv/bin/python"))
            .arg(root.join("tests/e2e/iam.py"))
            .args(["--endpoint", self.s("moto_endpoint")])
            .args(["--key", admin["access_key_id"].as_str().unwrap()])
            .args(["--secret", admin["secret_access_key"].as_str().unwrap()])
            .args(["revoke", role, action])
            .output()
            .expect("run tests/e2e/iam.py");
        assert!(
            out.status.success(),
            "iam.py revoke {role} {action}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The router's log so far.
    pub fn router_log(&self) -> String {
        std::fs::read_to_string(self.log_dir.join("router.log")).unwrap_or_default()
    }
}

impl Drop for LocalStack {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            drop(c.stdin.take()); // EOF: the stack stops moto, the router and cargo lambda watch
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(30) {
                if let Ok(Some(_)) = c.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}
