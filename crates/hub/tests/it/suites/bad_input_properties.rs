//! Property: no input makes the hub answer 5xx or panic — random query values, random bodies,
//! random JSON shaped almost like the real thing.

use super::BACKEND;
use crate::common;

use common::{proptest_runtime, TestHub};
use proptest::prelude::*;
use reqwest::Method;

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        ".{0,12}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("2024-03-05 14:22:11")),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("comments".to_owned()),
                    Just("externalId".to_owned()),
                    Just("urlId".to_owned()),
                    Just("comment".to_owned()),
                    Just("date".to_owned()),
                    Just("countRemaining".to_owned()),
                    Just("mappings".to_owned()),
                    Just("direction".to_owned()),
                    "[a-zA-Z]{1,8}",
                ],
                inner,
                0..5
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn no_input_gets_a_server_error(
        cursor in ".{0,24}",
        skip in ".{0,8}",
        raw in prop::collection::vec(any::<u8>(), 0..256),
        body in json_value(),
    ) {
        proptest_runtime().block_on(async {
            let hub = TestHub::start(BACKEND).await;
            let t = hub.tenant("Acme").await;
            let token = "fuzz-token-abcdef";
            hub.connect(&t, token, false).await;
            let enc = |s: &str| -> String { s.bytes().map(|b| format!("%{b:02X}")).collect() };
            let (c, s) = (enc(&cursor), enc(&skip));
            for path in [
                format!("/integrations/v1/stream?token={token}&lastFetchDate={c}"),
                format!("/integrations/v1/events?token={token}&fromDateTime={c}"),
                format!("/integrations/v1/commands?token={token}&fromDateTime={c}"),
                format!("/integrations/v1/comments?token={token}&skip={s}&includeCount={c}"),
                format!("/integrations/v1/stream?token={c}"),
            ] {
                let res = hub.get_raw(&path).await;
                prop_assert!(res.status().as_u16() < 500, "GET {} → {}", path, res.status());
                let v: serde_json::Value = res.json().await.unwrap();
                prop_assert!(v["status"] == "success" || v["code"].is_string());
            }
            for (method, path, key) in [
                (Method::POST, format!("/integrations/v1/comments?token={token}"), None),
                (Method::PATCH, format!("/integrations/v1/comment-ids?token={token}"), None),
                (Method::POST, "/api/v1/comments".to_owned(), Some(t.key.clone())),
                (Method::PUT, "/api/v1/webhook-config".to_owned(), Some(t.key.clone())),
                (Method::POST, "/admin/v1/tenants".to_owned(), None),
            ] {
                for payload in [raw.clone(), serde_json::to_vec(&body).unwrap()] {
                    let mut req = hub.client.request(method.clone(), format!("{}{}", hub.base, path)).body(payload);
                    if let Some(k) = &key {
                        req = req.header("x-api-key", k);
                    }
                    let res = req.send().await.unwrap();
                    prop_assert!(res.status().as_u16() < 500, "{} {} → {}", method, path, res.status());
                }
            }
            Ok(())
        })?;
    }
}
