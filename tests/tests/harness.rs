//! The harness itself: moto starts, answers S3 through trainguard's own client
//! builder and storage layer, and stops by PID.

use trainguard::aws::{PutOutcome, S3Store};
use trainguard::storage::S3Uri;
use trainguard_tests::*;

#[tokio::test]
async fn moto_round_trip_through_trainguard_storage() {
    let moto = MotoServer::start();
    let clients = moto.clients().await;
    let bucket = unique_bucket("harness");
    create_bucket(&clients, &bucket).await;
    let store = S3Store::new(clients.s3.clone());
    let uri = S3Uri::new(&bucket, "a/b.txt");
    store.put(&uri, "hello", "text/plain").await.unwrap();
    assert_eq!(&store.get(&uri).await.unwrap()[..], b"hello");
    assert_eq!(&store.get_range(&uri, 1, 3).await.unwrap()[..], b"el");
    let listed = store.list(&S3Uri::new(&bucket, "a/")).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].size, 5);

    // Missing objects map to the documented name.
    let err = store
        .get(&S3Uri::new(&bucket, "missing"))
        .await
        .unwrap_err();
    assert_eq!(
        trainguard::ErrorName::error_name(&err),
        "StorageError.NotFound"
    );

    // Conditional writes: first wins, second is refused.
    let j = S3Uri::new(&bucket, "journal.json");
    assert!(matches!(
        store
            .put_conditional(&j, "1", "application/json", None)
            .await
            .unwrap(),
        PutOutcome::Written { .. }
    ));
    assert_eq!(
        store
            .put_conditional(&j, "2", "application/json", None)
            .await
            .unwrap(),
        PutOutcome::PreconditionFailed
    );
    assert_eq!(&store.get(&j).await.unwrap()[..], b"1");

    let pid = moto.port;
    drop(moto);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", pid)).is_err(),
        "moto stopped"
    );
}
