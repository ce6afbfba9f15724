//! Races made to happen: an [`S3Ops`] that holds conditional writes to one key at a
//! barrier until every party of the race has reached its write, then lets them all go
//! to the real service (moto) at once.
//!
//! Starting two writers "at the same time" leaves the interleaving to the scheduler:
//! the second may well read what the first already wrote and never race at all. Held
//! at the barrier, both have read the same state (the same ETag, or no object) before
//! either writes, so the service's conditional write (`If-None-Match: *` /
//! `If-Match`) is what decides, which is the race the lease and the approval's first
//! decision rely on. Nothing is faked: every call goes to the wrapped ops unchanged.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Barrier;
use trainguard::aws::ops::{KeyError, ListPage, ObjectVersion, PageToken, PutOutcome};
use trainguard::aws::{AwsError, S3Ops, StoredObject};

/// One race: `parties` conditional writes to keys ending in `key_suffix` meet before
/// any goes out. Share it (`Arc`) between the wrappers of every party.
#[derive(Debug)]
pub struct Race {
    key_suffix: String,
    barrier: Barrier,
    /// Writes still to hold.
    to_hold: AtomicUsize,
    /// Writes that were held and released together.
    met: AtomicUsize,
}

impl Race {
    pub fn new(key_suffix: &str, parties: usize) -> Arc<Race> {
        Arc::new(Race {
            key_suffix: key_suffix.to_string(),
            barrier: Barrier::new(parties),
            to_hold: AtomicUsize::new(parties),
            met: AtomicUsize::new(0),
        })
    }

    /// How many writes met at the barrier: every party's, or the race did not happen.
    pub fn met(&self) -> usize {
        self.met.load(Ordering::SeqCst)
    }

    async fn hold(&self, key: &str) {
        if !key.ends_with(&self.key_suffix) {
            return;
        }
        let mine = self
            .to_hold
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if !mine {
            return;
        }
        // A party that never writes (it found the race already decided) must not hang
        // the others: after the timeout they go on, and `met` says the race was missed.
        if tokio::time::timeout(Duration::from_secs(20), self.barrier.wait())
            .await
            .is_ok()
        {
            self.met.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// `inner` with its conditional writes to the race's key held at the race's barrier.
#[derive(Debug, Clone)]
pub struct Rendezvous<S> {
    inner: S,
    race: Arc<Race>,
}

impl<S> Rendezvous<S> {
    pub fn new(inner: S, race: Arc<Race>) -> Self {
        Rendezvous { inner, race }
    }

    pub fn inner(&self) -> &S {
        &self.inner
    }
}

impl<S: S3Ops> S3Ops for Rendezvous<S> {
    async fn list_objects(
        &self,
        bucket: &str,
        prefix: &str,
        token: Option<&PageToken>,
    ) -> Result<ListPage, AwsError> {
        self.inner.list_objects(bucket, prefix, token).await
    }

    async fn list_object_versions(
        &self,
        bucket: &str,
        prefix: &str,
        token: Option<&PageToken>,
    ) -> Result<ListPage, AwsError> {
        self.inner.list_object_versions(bucket, prefix, token).await
    }

    async fn delete_objects(
        &self,
        bucket: &str,
        objects: &[ObjectVersion],
    ) -> Result<Vec<KeyError>, AwsError> {
        self.inner.delete_objects(bucket, objects).await
    }

    async fn get_object(&self, bucket: &str, key: &str) -> Result<Option<StoredObject>, AwsError> {
        self.inner.get_object(bucket, key).await
    }

    async fn put_object_conditional(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        if_match: Option<&str>,
    ) -> Result<PutOutcome, AwsError> {
        self.race.hold(key).await;
        self.inner
            .put_object_conditional(bucket, key, body, if_match)
            .await
    }

    async fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        expires: Duration,
    ) -> Result<String, AwsError> {
        self.inner.presign_get(bucket, key, expires).await
    }
}
