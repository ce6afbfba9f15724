//! The AWS floor: the one layer between trainguard's logic and AWS.
//!
//! - [`ops`]: small traits per service capability ([`S3Ops`], [`SageMakerOps`],
//!   [`SfnOps`], [`SnsOps`]) and [`Aws`], the bundle a concern asks for. Logic is
//!   written against these, so it is unit-testable without a server.
//! - [`error`]: [`AwsError`], the one classification of failed replies.
//! - `sdk` / `clients` / `s3_store` (feature `aws`, on by default): the real
//!   implementations over the AWS SDK, and the clients built once per container.
//! - `memory` / `fault` (`cfg(test)` or feature `doubles`): in-memory doubles that
//!   answer the way the AWS API reference says AWS does, and fault injection around any
//!   implementation. They are not part of a Lambda build.
//!
//! Built without `aws` (the fuzz targets do this, to leave the SDK out of their build),
//! the logic and its types remain; [`S3Store`] then has no constructor, so every path
//! that would reach S3 is unreachable.

pub mod error;
pub mod ops;

#[cfg(feature = "aws")]
mod clients;
#[cfg(feature = "aws")]
pub mod sdk;
#[cfg(feature = "aws")]
mod sdk_error;

mod s3_store;

#[cfg(any(test, feature = "doubles"))]
pub mod fault;
#[cfg(any(test, feature = "doubles"))]
pub mod memory;

#[cfg(feature = "aws")]
pub use clients::{
    load_config, logs_client, s3_client, s3_endpoint_overridden, sagemaker_client, sfn_client,
    sns_client, Clients,
};
pub use error::{classify, key_error_is_transient, AwsError, AwsErrorKind};
pub use ops::{
    Aws, EndpointState, KeyError, ListPage, ObjectVersion, PackageRegistration, PageToken,
    PutOutcome, S3Ops, SageMakerOps, SfnOps, SnsOps, StoredObject,
};
pub use s3_store::{ObjectBody, ObjectInfo, S3Store};
