//! Consistency of the shipped pipeline: the state machine, the SAM template and the
//! workspace agree with each other.
//!
//! - every `${...}` substitution in the ASL is defined in the template's
//!   `DefinitionSubstitutions` (and every definition there is used);
//! - every function in the template is a binary crate of the workspace, and every
//!   function crate is deployed;
//! - every error name in an `ErrorEquals` is documented in `trainguard::catalog::all()`
//!   (or is a `States.*` name);
//! - every Lambda task invokes a function the template defines;
//! - every function's `[package.metadata.lambda.env]` (what `cargo lambda watch` gives it) is
//!   the demo stack's environment, `tests/e2e/demo.env` (its `{function}` = the binary's
//!   name: each function's own access key id), with the settings the template gives that
//!   function;
//! - every training job, processing job, model package, model, endpoint config and endpoint
//!   the ASL creates carries the cost tags `project`, `pipeline`, `execution-id`;
//! - the optional KMS key and job VPC come from the deployment's substitutions only and are
//!   merged into every SageMaker request that takes them.
//!
//! The IAM side (every call granted, nothing granted that nothing calls) is
//! `tests/static/iam_actions.py`, run by `scripts/check.d/pipeline-static.sh`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use trainguard_tests::workspace_root;

fn read(rel: &str) -> String {
    let p = workspace_root().join(rel);
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn definitions() -> Vec<(String, Value)> {
    let dir = workspace_root().join("statemachine");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(".asl.json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let json: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            out.push((text, json));
        }
    }
    assert!(!out.is_empty(), "no statemachine/*.asl.json");
    out
}

/// `${Name}` placeholders in a definition's text.
fn placeholders(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut rest = text;
    while let Some(i) = rest.find("${") {
        let after = &rest[i + 2..];
        let end = after.find('}').expect("unterminated ${");
        out.insert(after[..end].to_string());
        rest = &after[end..];
    }
    out
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

/// The keys of the YAML mapping under the first line equal to `header` (trimmed): the
/// lines indented one level deeper than the first child. The template is plain block
/// YAML, so this is enough and needs no YAML crate (CloudFormation tags like `!Ref` would
/// trip a strict parser anyway).
fn mapping_keys(template: &str, header: &str) -> Vec<String> {
    let lines: Vec<&str> = template.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim() == header)
        .unwrap_or_else(|| panic!("{header} not in template"));
    let base = indent(lines[start]);
    let mut child_indent = None;
    let mut keys = Vec::new();
    for l in &lines[start + 1..] {
        if l.trim().is_empty() || l.trim_start().starts_with('#') {
            continue;
        }
        let i = indent(l);
        if i <= base {
            break;
        }
        let ci = *child_indent.get_or_insert(i);
        if i == ci {
            if let Some((k, _)) = l.trim().split_once(':') {
                keys.push(k.trim().to_string());
            }
        }
    }
    keys
}

/// (logical id, binary) of every `AWS::Serverless::Function`.
fn template_functions(template: &str) -> Vec<(String, String)> {
    let lines: Vec<&str> = template.lines().collect();
    let mut out = Vec::new();
    for (i, l) in lines.iter().enumerate() {
        if l.trim() == "Type: AWS::Serverless::Function" {
            let logical = lines[i - 1].trim().trim_end_matches(':').to_string();
            let binary = lines[i..]
                .iter()
                .take_while(|x| indent(x) > indent(lines[i - 1]) || x.trim().is_empty())
                .find_map(|x| {
                    x.trim()
                        .strip_prefix("Binary:")
                        .map(|b| b.trim().to_string())
                })
                .unwrap_or_else(|| panic!("{logical}: no BuildProperties.Binary"));
            let block: Vec<&str> = lines[i..]
                .iter()
                .take_while(|x| indent(x) > indent(lines[i - 1]) || x.trim().is_empty())
                .copied()
                .collect();
            assert!(
                block.iter().any(|x| x.trim() == "BuildMethod: makefile"),
                "{logical}: BuildMethod makefile (the one-pass build, Makefile)"
            );
            out.push((logical, binary));
        }
    }
    out
}

fn walk<'a>(v: &'a Value, f: &mut impl FnMut(&'a serde_json::Map<String, Value>)) {
    match v {
        Value::Object(o) => {
            f(o);
            for x in o.values() {
                walk(x, f);
            }
        }
        Value::Array(a) => a.iter().for_each(|x| walk(x, f)),
        _ => {}
    }
}

#[test]
fn every_substitution_is_defined_and_used() {
    let template = read("template.yaml");
    let defined: BTreeSet<String> = mapping_keys(&template, "DefinitionSubstitutions:")
        .into_iter()
        .collect();
    assert!(defined.len() > 10, "parsed {defined:?}");
    let mut used = BTreeSet::new();
    for (text, _) in definitions() {
        used.extend(placeholders(&text));
    }
    let undefined: Vec<_> = used.difference(&defined).collect();
    assert!(
        undefined.is_empty(),
        "used in the ASL but not in DefinitionSubstitutions: {undefined:?}"
    );
    let unused: Vec<_> = defined.difference(&used).collect();
    assert!(
        unused.is_empty(),
        "defined in DefinitionSubstitutions but never used: {unused:?}"
    );
}

#[test]
fn every_template_function_is_a_workspace_binary_and_back() {
    let template = read("template.yaml");
    let functions = template_functions(&template);
    let cargo = read("Cargo.toml");
    let mut deployed = BTreeSet::new();
    for (logical, bin) in &functions {
        let manifest = workspace_root()
            .join("functions")
            .join(bin)
            .join("Cargo.toml");
        assert!(
            manifest.exists(),
            "{logical}: {} missing",
            manifest.display()
        );
        let text = std::fs::read_to_string(&manifest).unwrap();
        assert!(
            text.contains(&format!("name = \"{bin}\"")),
            "{logical}: no binary {bin} in {}",
            manifest.display()
        );
        assert!(
            cargo.contains(&format!("\"functions/{bin}\"")),
            "{bin} is not a workspace member"
        );
        deployed.insert(bin.clone());
    }
    let mut crates = BTreeSet::new();
    for entry in std::fs::read_dir(workspace_root().join("functions")).unwrap() {
        let p = entry.unwrap().path();
        if Path::new(&p).join("Cargo.toml").exists() {
            crates.insert(p.file_name().unwrap().to_string_lossy().to_string());
        }
    }
    assert_eq!(
        deployed, crates,
        "every function crate is deployed, and nothing else"
    );
    assert_eq!(crates.len(), 6);
}

#[test]
fn every_error_name_in_the_asl_is_documented() {
    let catalog: BTreeSet<&str> = trainguard::catalog::all().iter().map(|d| d.name).collect();
    let mut seen = 0;
    for (_, asl) in definitions() {
        walk(&asl, &mut |o| {
            if let Some(Value::Array(names)) = o.get("ErrorEquals") {
                for n in names {
                    let n = n.as_str().expect("ErrorEquals holds strings");
                    seen += 1;
                    assert!(
                        n.starts_with("States.") || catalog.contains(n),
                        "ErrorEquals name {n:?} is not in trainguard::catalog::all()"
                    );
                }
            }
        });
    }
    assert!(seen > 20, "found only {seen} ErrorEquals names");
}

#[test]
fn every_lambda_task_invokes_a_template_function() {
    let template = read("template.yaml");
    let subs = mapping_keys(&template, "DefinitionSubstitutions:");
    let functions: BTreeSet<String> = template_functions(&template)
        .into_iter()
        .map(|(l, _)| l)
        .collect();
    for (_, asl) in definitions() {
        walk(&asl, &mut |o| {
            let is_lambda = o
                .get("Resource")
                .and_then(Value::as_str)
                .is_some_and(|r| r.starts_with("arn:aws:states:::lambda:invoke"));
            if !is_lambda {
                return;
            }
            let f = o["Parameters"]["FunctionName"]
                .as_str()
                .expect("FunctionName");
            let key = f.trim_start_matches("${").trim_end_matches('}');
            assert!(subs.iter().any(|s| s == key), "{f} is not a substitution");
            let logical = format!("{}Function", key.trim_end_matches("Arn"));
            assert!(
                functions.contains(&logical),
                "{f}: no function {logical} in the template"
            );
        });
    }
}

/// `KEY=VALUE` lines of an env file (`#` comments and blank lines skipped).
fn env_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (k, v) = l
                .split_once('=')
                .unwrap_or_else(|| panic!("not KEY=VALUE: {l}"));
            (k.trim().to_string(), v.trim().to_string())
        })
        .collect()
}

/// The `KEY = "value"` lines of one TOML table (`[name]` up to the next table header).
/// The manifests keep this table flat (plain strings), so no TOML crate is needed.
fn toml_table(text: &str, name: &str) -> Option<BTreeMap<String, String>> {
    let header = format!("[{name}]");
    let mut lines = text.lines().skip_while(|l| l.trim() != header);
    lines.next()?;
    Some(
        lines
            .map(str::trim)
            .take_while(|l| !l.starts_with('['))
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (k, v) = l
                    .split_once('=')
                    .unwrap_or_else(|| panic!("not k = v: {l}"));
                let v = v.trim();
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or_else(|| panic!("{name}: {k} is not a plain string"));
                (k.trim().to_string(), v.to_string())
            })
            .collect(),
    )
}

/// The `TRAINGUARD_*` variables the template sets in one function's own block.
fn template_settings(template: &str, logical: &str) -> BTreeSet<String> {
    let lines: Vec<&str> = template.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.trim_end() == format!("  {logical}:"))
        .unwrap_or_else(|| panic!("{logical} not in template.yaml"));
    lines[start + 1..]
        .iter()
        .take_while(|l| l.trim().is_empty() || indent(l) > 2)
        .filter_map(|l| l.trim().split_once(':'))
        .map(|(k, _)| k.to_string())
        .filter(|k| k.starts_with("TRAINGUARD_"))
        .collect()
}

#[test]
fn cargo_lambda_env_is_the_demo_stack() {
    let demo = env_file(&read("tests/e2e/demo.env"));
    assert!(
        demo.contains_key("AWS_ENDPOINT_URL"),
        "demo.env names the stack's endpoint"
    );
    let template = read("template.yaml");
    let mut used = BTreeSet::new();
    for (logical, bin) in template_functions(&template) {
        let manifest = format!("functions/{bin}/Cargo.toml");
        let env = toml_table(&read(&manifest), "package.metadata.lambda.env")
            .unwrap_or_else(|| panic!("{manifest}: no [package.metadata.lambda.env]"));
        for (k, v) in &env {
            // `{function}` in demo.env is the function's binary name: each function signs
            // with its own access key id, by which the e2e router knows whose role to use.
            let want = demo.get(k).map(|d| d.replace("{function}", &bin));
            assert_eq!(
                want.as_ref(),
                Some(v),
                "{manifest}: {k} = {v:?} is not what tests/e2e/demo.env says"
            );
            used.insert(k.clone());
        }
        for k in demo.keys().filter(|k| k.starts_with("AWS_")) {
            assert!(env.contains_key(k), "{manifest}: {k} missing (in demo.env)");
        }
        for k in template_settings(&template, &logical) {
            assert!(
                env.contains_key(&k),
                "{manifest}: {k} missing (template.yaml sets it for {logical})"
            );
        }
    }
    let unused: Vec<_> = demo.keys().filter(|k| !used.contains(*k)).collect();
    assert!(
        unused.is_empty(),
        "demo.env settings no function's metadata uses: {unused:?}"
    );
}

#[test]
fn the_parsers_read_what_they_should() {
    let m = "[package]\nname = \"x\"\n\n[package.metadata.lambda.env]\n# c\nA = \"1\"\nB = \"two words\"\n\n[other]\nC = \"3\"\n";
    let env = toml_table(m, "package.metadata.lambda.env").unwrap();
    assert_eq!(env.len(), 2);
    assert_eq!(env["B"], "two words");
    assert!(toml_table(m, "missing").is_none());
    assert_eq!(env_file("# c\nK=v=w\n\nL = 2\n")["K"], "v=w");
    let t = "Resources:\n  F:\n    Properties:\n      Environment:\n        Variables:\n          TRAINGUARD_A: !Ref X\n  G:\n    TRAINGUARD_B: 1\n";
    assert_eq!(
        template_settings(t, "F"),
        ["TRAINGUARD_A".to_string()].into_iter().collect()
    );
    let t = "A:\n  DefinitionSubstitutions:\n    X: !Ref Y\n    Z:\n      deep: 1\n  Other: 2\n";
    assert_eq!(mapping_keys(t, "DefinitionSubstitutions:"), vec!["X", "Z"]);
    assert_eq!(
        placeholders("a ${B} c ${D}e"),
        ["B", "D"].iter().map(|s| s.to_string()).collect()
    );
}

/// Issue 12: whoever may start an execution cannot choose the gate's policy. The images
/// come from `$.policy` (substitutions only, never merged with the input), the evaluation
/// gate routes on read-evaluation's verdict (thresholds applied in the library), and the
/// approval request carries no starter of the input's choosing but the execution's own
/// input, which the handler checks against the start record.
#[test]
fn the_execution_input_cannot_choose_the_gate_policy() {
    let (_, asl) = definitions()
        .into_iter()
        .find(|(t, _)| t.contains("ApprovalGate"))
        .expect("the pipeline definition");
    let states = &asl["States"];
    // Images: every image field reads the deployment's policy.
    let mut images = Vec::new();
    walk(&asl, &mut |o| {
        for (k, v) in o {
            if matches!(k.as_str(), "TrainingImage.$" | "ImageUri.$" | "Image.$") {
                images.push(v.as_str().unwrap_or("").to_string());
            }
            assert!(
                !matches!(k.as_str(), "TrainingImage" | "ImageUri" | "Image"),
                "a literal image field {k}"
            );
        }
    });
    assert!(images.len() >= 4, "{images:?}");
    for p in &images {
        assert!(
            p.starts_with("$.policy.images.") || p == "$.training_image",
            "an image from {p}, not from $.policy"
        );
    }
    let init = &states["Initialize"]["Parameters"];
    assert!(
        init["policy"]["images"].is_object(),
        "Initialize sets policy"
    );
    assert_eq!(states["MergeInput"]["Parameters"]["policy.$"], "$.policy");
    assert_eq!(states["BuildContext"]["Parameters"]["policy.$"], "$.policy");
    assert_eq!(
        states["TrainingSweep"]["ItemSelector"]["training_image.$"],
        "$.policy.images.training"
    );
    for k in ["training", "evaluation", "feature_engineering", "inference"] {
        assert!(
            init["parameter_defaults"][k].get("image").is_none(),
            "{k}.image is not a parameter"
        );
    }
    // The evaluation gate routes on the verdict only.
    let mut vars = Vec::new();
    walk(&states["EvaluationGate"], &mut |o| {
        if let Some(v) = o.get("Variable") {
            vars.push(v.as_str().unwrap().to_string());
        }
        assert!(
            !o.keys().any(|k| k.ends_with("Path")),
            "a Choice comparing with a path the input may set"
        );
    });
    assert!(
        !vars.is_empty() && vars.iter().all(|v| v == "$.evaluation.report.route"),
        "{vars:?}"
    );
    let read = &states["ReadEvaluation"]["Parameters"]["Payload"];
    assert_eq!(read["task"], "read-evaluation");
    assert_eq!(read["review_required.$"], "$.review.required");
    // The evaluation gate's baseline comes from the deployment's model package group (a
    // substitution), never from a path the input may set, and its limits are requests.
    assert_eq!(read["model_package_group"], "${ModelPackageGroupName}");
    assert!(read.get("model_package_group.$").is_none());
    assert_eq!(read["gate.$"], "$.config.evaluation_gate");
    // The approval request.
    let payload = &states["ApprovalGate"]["Parameters"]["Payload"];
    assert!(
        payload.get("started_by.$").is_none() && payload.get("started_by").is_none(),
        "the starter comes from the start record, not the input"
    );
    assert_eq!(payload["execution_input.$"], "$$.Execution.Input");
    assert_eq!(payload["entered_at.$"], "$$.State.EnteredTime");
    assert!(payload["heartbeat_seconds.$"].is_string());
    // The registry follows the decision in the live execution only.
    assert_eq!(states["ApprovalGate"]["Next"], "ApproveReviewed");
    let approve = &states["ApproveReviewed"];
    assert_eq!(
        approve["Resource"],
        "arn:aws:states:::aws-sdk:sagemaker:updateModelPackage"
    );
    assert_eq!(approve["Parameters"]["ModelApprovalStatus"], "Approved");
    assert_eq!(
        approve["Parameters"]["ApprovalDescription.$"],
        "$.approval.registry_note"
    );
}

/// Every Task and Pass state of a definition, as (name, state), children of Maps included.
fn task_and_pass_states(asl: &Value) -> Vec<(String, &Value)> {
    fn go<'a>(states: &'a Value, out: &mut Vec<(String, &'a Value)>) {
        for (name, st) in states.as_object().expect("States") {
            if st["Type"] == "Task" || st["Type"] == "Pass" {
                out.push((name.clone(), st));
            }
            if let Some(inner) = st.get("ItemProcessor").or_else(|| st.get("Iterator")) {
                go(&inner["States"], out);
            }
        }
    }
    let mut out = Vec::new();
    go(&asl["States"], &mut out);
    out
}

/// The keys and values of a literal `Tags` list.
fn tag_map(tags: &Value) -> BTreeMap<String, String> {
    tags.as_array()
        .expect("a literal Tags list")
        .iter()
        .map(|t| {
            let v = t.get("Value").or_else(|| t.get("Value.$")).expect("Value");
            (
                t["Key"].as_str().unwrap().to_string(),
                v.as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Issue 13: the cost-allocation tags `project`, `pipeline` and `execution-id` are on every
/// training job, processing job, model package, model, endpoint config and endpoint the
/// pipeline creates. Training requests are built in the sweep's Prepare* states and sent by
/// the Train states with `Tags.$: $.job.Tags`.
#[test]
fn everything_the_pipeline_creates_carries_the_cost_tags() {
    let (_, asl) = definitions()
        .into_iter()
        .find(|(t, _)| t.contains("TrainingSweep"))
        .expect("the pipeline definition");
    let creates = [
        "sagemaker:createTrainingJob",
        "sagemaker:createProcessingJob",
        "sagemaker:createModel",
        "sagemaker:createEndpointConfig",
        "sagemaker:createEndpoint",
        "aws-sdk:sagemaker:createModelPackage",
    ];
    let want = |name: &str, tags: &Value| {
        let m = tag_map(tags);
        assert_eq!(
            m.get("project").map(String::as_str),
            Some("${ProjectName}"),
            "{name}: {m:?}"
        );
        assert_eq!(
            m.get("pipeline").map(String::as_str),
            Some("${PipelineName}"),
            "{name}: {m:?}"
        );
        assert_eq!(
            m.get("execution-id").map(String::as_str),
            Some("$.run.execution_name"),
            "{name}: {m:?}"
        );
    };
    let mut seen = BTreeSet::new();
    for (name, st) in task_and_pass_states(&asl) {
        let resource = st["Resource"].as_str().unwrap_or("");
        let Some(api) = creates.iter().find(|a| {
            let base = resource.trim_end_matches(".sync");
            base == format!("arn:aws:states:::{a}")
        }) else {
            if let Some(job) = st["Parameters"].get("job") {
                want(&name, &job["Tags"]);
                seen.insert(format!("{name} (training request)"));
            }
            continue;
        };
        let p = &st["Parameters"];
        if *api == "sagemaker:createTrainingJob" {
            assert_eq!(
                p["Tags.$"], "$.job.Tags",
                "{name}: tags from the prepared request"
            );
        } else {
            want(&name, &p["Tags"]);
        }
        seen.insert(name);
    }
    for must in [
        "FeatureEngineering",
        "Evaluate",
        "Train",
        "TrainInVpc",
        "RegisterModel",
        "CreateModel",
        "CreateEndpointConfig",
        "CreateEncryptedEndpointConfig",
        "CreateEndpoint",
        "PrepareSpotTrainingJob (training request)",
        "PrepareOnDemandTrainingJob (training request)",
    ] {
        assert!(seen.contains(must), "{must} not checked: {seen:?}");
    }
}

/// Issue 13: the optional KMS key and VPC are the deployment's (DefinitionSubstitutions
/// into `$.policy`, never merged with the execution input), turned into request fields once
/// (`$.security`, built by Choice states), and merged into every SageMaker request that
/// takes them, so the same definition is valid with and without them.
#[test]
fn kms_and_vpc_options_come_from_the_deployment_only() {
    let (_, asl) = definitions()
        .into_iter()
        .find(|(t, _)| t.contains("TrainingSweep"))
        .expect("the pipeline definition");
    let states = &asl["States"];
    let policy = &states["Initialize"]["Parameters"]["policy"];
    assert_eq!(policy["encryption"]["kms_key_arn"], "${KmsKeyArn}");
    assert_eq!(policy["network"]["subnets"], "${VpcSubnetIds}");
    assert_eq!(
        states["BuildContext"]["Parameters"]["security"],
        serde_json::json!({})
    );
    let mut key_reads = 0;
    walk(&asl, &mut |o| {
        for (k, v) in o {
            let v = v.as_str().unwrap_or("");
            if matches!(k.as_str(), "KmsKeyId.$" | "VolumeKmsKeyId.$") {
                key_reads += 1;
                assert!(v.starts_with("$.policy.encryption."), "{k} from {v}");
            }
            assert!(
                !matches!(
                    k.as_str(),
                    "KmsKeyId" | "VolumeKmsKeyId" | "Subnets" | "SecurityGroupIds"
                ),
                "a literal {k}: the key and the VPC are the deployment's"
            );
            if matches!(k.as_str(), "Subnets.$" | "SecurityGroupIds.$") {
                assert!(v.contains("$.policy.network."), "{k} from {v}");
            }
        }
    });
    assert!(key_reads >= 6, "{key_reads}");
    for (name, st) in task_and_pass_states(&asl) {
        let r = st["Resource"].as_str().unwrap_or("");
        let p = &st["Parameters"];
        if r.ends_with("createTrainingJob.sync") {
            assert_eq!(
                p["ResourceConfig.$"],
                "States.JsonMerge($.job.ResourceConfig, $.security.encryption.training_resource, false)",
                "{name}"
            );
            assert_eq!(
                p["OutputDataConfig.$"],
                "States.JsonMerge($.job.OutputDataConfig, $.security.encryption.training_output, false)",
                "{name}"
            );
            assert_eq!(p["RoleArn"], "${TrainingRoleArn}", "{name}");
            assert_eq!(
                p.get("VpcConfig.$").and_then(Value::as_str),
                (name == "TrainInVpc").then_some("$.security.network.training"),
                "{name}"
            );
        }
        if r.ends_with("createProcessingJob.sync") {
            assert!(
                p["ProcessingResources"]["ClusterConfig.$"]
                    .as_str()
                    .is_some_and(|v| v.ends_with("$.security.encryption.processing_volume, false)")),
                "{name}"
            );
            assert!(
                p["ProcessingOutputConfig.$"]
                    .as_str()
                    .is_some_and(|v| v.ends_with("$.security.encryption.processing_output, false)")),
                "{name}"
            );
            assert_eq!(
                p["NetworkConfig.$"], "$.security.network.processing",
                "{name}"
            );
            assert_eq!(p["RoleArn"], "${TrainingRoleArn}", "{name}");
        }
        if r == "arn:aws:states:::sagemaker:createModel" {
            assert_eq!(p["ExecutionRoleArn"], "${HostingRoleArn}", "{name}");
        }
    }
    // Every way into Train goes through the VPC choice.
    let child = &states["TrainingSweep"]["ItemProcessor"]["States"];
    for from in [
        "PrepareSpotTrainingJob",
        "PrepareOnDemandTrainingJob",
        "ApplyRecoveryPlan",
    ] {
        assert_eq!(child[from]["Next"], "ChooseTrainingNetwork", "{from}");
        assert_eq!(
            child[from]["Parameters"]["security.$"], "$.security",
            "{from}"
        );
    }
    assert_eq!(
        states["TrainingSweep"]["ItemSelector"]["security.$"],
        "$.security"
    );
}

/// select-best enforces the sweep's ToleratedFailurePercentage for engines that do not;
/// the two numbers must be the same one.
#[test]
fn select_best_tolerates_what_the_sweep_tolerates() {
    let (_, asl) = definitions()
        .into_iter()
        .find(|(t, _)| t.contains("TrainingSweep"))
        .expect("the pipeline definition");
    let states = &asl["States"];
    let sweep = &states["TrainingSweep"]["ToleratedFailurePercentage"];
    assert!(sweep.is_number(), "the sweep tolerates a fixed share");
    assert_eq!(
        &states["SelectBest"]["Parameters"]["Payload"]["tolerated_failure_percentage"],
        sweep
    );
}
