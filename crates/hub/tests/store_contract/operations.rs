//! Issue 13's store promises: secret rotation with overlap, delivery retention,
//! subscriptions.

use super::fixtures::*;
use fastcomments_hub::store::*;
use std::sync::Arc;

fn secret(id: &str, tenant: &str, text: &str, at: i64) -> ApiSecret {
    ApiSecret {
        id: id.to_owned(),
        tenant_id: tenant.to_owned(),
        domain: "ignored: the old secret's domain is used".to_owned(),
        secret: text.to_owned(),
        created_at: at,
    }
}

/// A rotation adds the new secret for the old one's domain and keeps the old one, listed as
/// retiring, until its time: retiring removes exactly the due ones, of every tenant, and only
/// once. Unknown ids, other tenants' secrets and a second rotation of the same secret fail.
pub async fn a_rotation_keeps_the_old_secret_until_it_retires(store: Arc<dyn Store>) {
    let t = tenant(&*store, "t1").await;
    let u = tenant(&*store, "t2").await;
    let (old, new) = store
        .rotate_secret(&t, "s-t1", &secret("n1", &t, "new-t1", T0 + 1), T0 + 100)
        .await
        .unwrap();
    assert_eq!(
        (old.id.as_str(), old.secret.as_str()),
        ("s-t1", "secret-t1")
    );
    assert_eq!((new.id.as_str(), new.domain.as_str()), ("n1", "*"));
    let listed = store.list_secrets(&t).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        ["s-t1", "n1"],
        "oldest first: the retiring one signs the FastComments header"
    );
    assert_eq!(
        store.secret_retirements(&t).await.unwrap(),
        vec![SecretRetirement {
            secret: old.clone(),
            retires_at: T0 + 100
        }]
    );
    assert!(matches!(
        store
            .rotate_secret(&t, "s-t1", &secret("n2", &t, "x", T0), T0)
            .await,
        Err(StoreError::Conflict(_))
    ));
    for (tenant, id) in [(&t, "nope"), (&t, "s-t2"), (&u, "s-t1")] {
        assert!(matches!(
            store
                .rotate_secret(tenant, id, &secret("n3", tenant, "y", T0), T0)
                .await,
            Err(StoreError::NotFound(_))
        ));
    }
    store
        .rotate_secret(&u, "s-t2", &secret("n4", &u, "new-t2", T0 + 1), T0 + 200)
        .await
        .unwrap();

    assert!(store.retire_secrets(T0 + 99).await.unwrap().is_empty());
    let retired = store.retire_secrets(T0 + 150).await.unwrap();
    assert_eq!(retired, vec![old]);
    assert!(store.secret_by_value("secret-t1").await.unwrap().is_none());
    assert!(store.secret_by_value("new-t1").await.unwrap().is_some());
    assert!(store.secret_retirements(&t).await.unwrap().is_empty());
    assert!(store.retire_secrets(T0 + 150).await.unwrap().is_empty());
    let retired = store.retire_secrets(T0 + 200).await.unwrap();
    assert_eq!(retired.len(), 1);
    assert_eq!(retired[0].id, "s-t2");
    assert_eq!(store.list_secrets(&u).await.unwrap().len(), 1);
}
