//! pipeline-trigger Lambda: starts pipeline executions from S3 / EventBridge / schedule
//! events, and runs the state machine's `select-best`, `fingerprint` and
//! `read-evaluation` steps.
//! Decode, call `trainguard::trigger`, encode.

use lambda_runtime::Context;
use serde_json::Value;
use trainguard::aws::Clients;
use trainguard::lambda::{deadline_margin, serve, Deadline, HandlerError};
use trainguard::storage::S3Store;
use trainguard::trigger::{
    self, evaluation, fingerprint, select, Request, SfnStarter, TriggerConfig,
};

struct Env {
    starter: SfnStarter,
    store: S3Store,
    config: Result<TriggerConfig, HandlerError>,
}

async fn handle(env: &Env, input: Value, ctx: Context) -> Result<Value, HandlerError> {
    match trigger::classify(&input)? {
        Request::Trigger(event) => {
            let config = env.config.clone()?;
            let plans = trigger::plan(&event, &config)?;
            Ok(trigger::start_all(&env.starter, plans, &config).await?)
        }
        Request::SelectBest(req) => Ok(select::select_best(&req)?),
        Request::Fingerprint(req) => {
            let deadline = Deadline::from_context(&ctx, deadline_margin());
            Ok(fingerprint::fingerprint(&env.store, &req, deadline).await?)
        }
        Request::ReadEvaluation(req) => Ok(evaluation::read_evaluation(&env.store, &req).await?),
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // Built once per container, outside the handler.
    let clients = Clients::from_env().await;
    let env = Env {
        starter: SfnStarter(clients.sfn.clone()),
        store: S3Store::new(clients.s3.clone()),
        config: TriggerConfig::from_env().map_err(HandlerError::from),
    };
    let env = &env;
    serve("pipeline-trigger", move |input, ctx| {
        handle(env, input, ctx)
    })
    .await
}
