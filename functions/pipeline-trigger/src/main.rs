//! pipeline-trigger Lambda: starts pipeline executions from S3 / EventBridge / schedule
//! events and IAM-signed manual starts (`POST /iam/runs`), and runs the state machine's `select-best`, `fingerprint` and
//! `read-evaluation` steps.
//! Decode, call `trainguard::trigger`, encode.

use serde_json::Value;
use trainguard::aws::sdk::{SdkSageMaker, SfnStarter};
use trainguard::aws::Clients;
use trainguard::aws::S3Store;
use trainguard::lambda::{run, Function, HandlerError, Invocation};
use trainguard::registry;
use trainguard::trigger::{
    self, fingerprint, read_evaluation, select_best, Request, TriggerConfig,
};

struct PipelineTrigger {
    starter: SfnStarter,
    store: S3Store,
    sagemaker: SdkSageMaker,
    config: Result<TriggerConfig, HandlerError>,
}

impl Function for PipelineTrigger {
    const NAME: &'static str = "pipeline-trigger";

    fn init(clients: Clients) -> Self {
        PipelineTrigger {
            starter: SfnStarter(clients.sfn),
            store: S3Store::new(clients.s3),
            sagemaker: SdkSageMaker::new(clients.sagemaker),
            config: TriggerConfig::from_env().map_err(HandlerError::from),
        }
    }

    async fn handle(&self, event: Value, inv: &Invocation) -> Result<Value, HandlerError> {
        match trigger::classify(&event)? {
            Request::Trigger(event) => {
                let config = self.config.clone()?;
                let plans = trigger::plan(&event, &config)?;
                Ok(trigger::start_all(&self.starter, &self.store, plans, &config).await?)
            }
            Request::Manual(event) => {
                let config = self.config.clone()?;
                Ok(trigger::manual::handle(&self.starter, &self.store, &event, &config).await)
            }
            Request::SelectBest(req) => Ok(select_best::select_best(&req)?),
            Request::Fingerprint(req) => {
                Ok(fingerprint::fingerprint(&self.store, &req, inv.deadline).await?)
            }
            Request::ReadEvaluation(req) => {
                let config = self.config.clone()?;
                let baseline = registry::baseline(&self.store, &self.sagemaker, &req).await?;
                Ok(read_evaluation::read_evaluation(
                    &self.store,
                    &req,
                    config.thresholds,
                    &config.gate_policy,
                    baseline,
                )
                .await?)
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    run::<PipelineTrigger>().await
}
