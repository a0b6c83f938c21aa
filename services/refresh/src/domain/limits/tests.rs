//! The arithmetic of API limits: specs from limits, GCRA decisions, page slots.

use super::*;

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(1_800_000_000_000 + ms).unwrap()
}

fn rate(key: &str, interval_ms: u64) -> LimitSpec {
    LimitSpec {
        key: key.into(),
        emission_interval: Some(Duration::from_millis(interval_ms)),
        max_concurrent: None,
    }
}

fn cap(key: &str, max: u32) -> LimitSpec {
    LimitSpec {
        key: key.into(),
        emission_interval: None,
        max_concurrent: Some(max),
    }
}

fn per(requests: i32, period_ms: u64) -> Rate {
    Rate {
        requests,
        period: Duration::from_millis(period_ms),
    }
}

#[test]
fn a_limit_adds_the_margin_to_its_period() {
    let limit = ApiLimit {
        rates: vec![per(5, 1000)],
        max_concurrent: 2,
    };
    let specs = specs_of("token:t", &limit, Duration::from_millis(100));
    assert_eq!(
        specs,
        vec![LimitSpec {
            key: "token:t".into(),
            emission_interval: Some(Duration::from_millis(220)),
            max_concurrent: Some(2),
        }]
    );
    assert_eq!(
        specs_of("token:t", &ApiLimit::default(), Duration::ZERO),
        vec![]
    );
}

#[test]
fn each_further_rate_is_a_key_of_its_own_and_the_cap_stays_on_the_first() {
    // 10 per second, 1000 per day and 4 at once.
    let limit = ApiLimit {
        rates: vec![per(10, 1000), per(1000, 86_400_000)],
        max_concurrent: 4,
    };
    let specs = specs_of("host:api.example.com", &limit, Duration::ZERO);
    assert_eq!(
        specs,
        vec![
            LimitSpec {
                key: "host:api.example.com".into(),
                emission_interval: Some(Duration::from_millis(100)),
                max_concurrent: Some(4),
            },
            LimitSpec {
                key: "host:api.example.com#86400000ms".into(),
                emission_interval: Some(Duration::from_millis(86_400)),
                max_concurrent: None,
            },
        ]
    );
}

#[test]
fn rates_of_one_period_keep_the_stricter_and_empty_rates_count_for_nothing() {
    let limit = ApiLimit {
        rates: vec![
            per(0, 1000),
            per(10, 0),
            per(-3, 1000),
            per(10, 1000),
            per(5, 1000),
            per(i32::MAX, 5000),
        ],
        max_concurrent: -1,
    };
    let specs = specs_of("k", &limit, Duration::ZERO);
    assert_eq!(specs.len(), 2, "{specs:?}");
    assert_eq!(specs[0].key, "k");
    assert_eq!(specs[0].emission_interval, Some(Duration::from_millis(200)));
    assert_eq!(specs[0].max_concurrent, None);
    assert_eq!(specs[1].key, "k#5000ms");
    // A cap of no requests at once limits nothing either.
    let only_rates = ApiLimit {
        rates: vec![],
        max_concurrent: 0,
    };
    assert!(specs_of("k", &only_rates, Duration::ZERO).is_empty());
}

#[test]
fn the_specs_of_a_fetch_are_in_key_order_and_a_key_named_twice_keeps_the_stricter() {
    let limits = vec![
        (
            token_key("t1"),
            ApiLimit {
                rates: vec![per(5, 1000)],
                max_concurrent: 0,
            },
        ),
        (
            host_key("api.example.com"),
            ApiLimit {
                rates: vec![per(2, 1000)],
                max_concurrent: 3,
            },
        ),
        (
            family_key("acct", "profile"),
            ApiLimit {
                rates: vec![],
                max_concurrent: 10,
            },
        ),
        (
            host_key("api.example.com"),
            ApiLimit {
                rates: vec![per(4, 1000)],
                max_concurrent: 1,
            },
        ),
    ];
    let specs = specs_for(&limits, Duration::ZERO);
    let keys: Vec<&str> = specs.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "host:api.example.com",
            "key:family:acct:profile",
            "token:t1"
        ]
    );
    assert_eq!(specs[0].emission_interval, Some(Duration::from_millis(500)));
    assert_eq!(specs[0].max_concurrent, Some(1));
    assert_eq!(credential_key("c"), "credential:c");
    assert_eq!(provider_key("p", "k"), "key:p:k");
}

#[test]
fn a_page_takes_the_next_slot_of_every_rate_and_pushes_each_on() {
    let limits = [
        (
            rate("a", 200),
            KeyState {
                tat: Some(at(300)),
                deferred_until: Some(at(5_000)),
                ..KeyState::default()
            },
        ),
        (
            rate("a#5000ms", 1000),
            KeyState {
                tat: Some(at(100)),
                ..KeyState::default()
            },
        ),
        (cap("c", 1), KeyState::default()),
    ];
    let (start, tats) = page_slot(at(0), &limits);
    // Ahead of the slot promised to a deferred job (5 s), behind the rate's next one.
    assert_eq!(start, at(300));
    assert_eq!(
        tats,
        vec![
            ("a".to_string(), at(500)),
            ("a#5000ms".to_string(), at(1_300))
        ]
    );
    let (now_start, _) = page_slot(at(400), &limits);
    assert_eq!(now_start, at(400), "a free slot is taken at once");
}

#[test]
fn the_rate_spaces_grants_one_interval_apart() {
    let limits = [(rate("k", 200), KeyState::default())];
    let Decision::Grant { tats, .. } = decide(at(0), &limits, false) else {
        panic!("the first request goes");
    };
    assert_eq!(tats, vec![("k".to_string(), at(200))]);

    let state = KeyState {
        tat: Some(at(200)),
        ..KeyState::default()
    };
    let limits = [(rate("k", 200), state)];
    assert_eq!(
        decide(at(150), &limits, false),
        Decision::Defer {
            until: at(200),
            promised: vec![("k".into(), at(200))],
            waiting_on: None
        }
    );
    assert!(matches!(
        decide(at(200), &limits, false),
        Decision::Grant { .. }
    ));
}

#[test]
fn deferred_jobs_are_promised_successive_slots_and_keep_them() {
    // One job was promised the slot at 400 already: the next fresh job gets 600.
    let state = KeyState {
        tat: Some(at(200)),
        deferred_until: Some(at(400)),
        ..KeyState::default()
    };
    let limits = [(rate("k", 200), state.clone())];
    assert_eq!(
        decide(at(100), &limits, false),
        Decision::Defer {
            until: at(600),
            promised: vec![("k".into(), at(600))],
            waiting_on: None
        }
    );
    // A fresh job cannot take a promised slot even when the rate would allow it...
    let limits = [(
        rate("k", 200),
        KeyState {
            tat: Some(at(200)),
            deferred_until: Some(at(400)),
            ..KeyState::default()
        },
    )];
    assert!(matches!(
        decide(at(450), &limits, false),
        Decision::Defer { .. }
    ));
    // ...but the job it was promised to can.
    assert!(matches!(
        decide(at(450), &limits, true),
        Decision::Grant { .. }
    ));
}

#[test]
fn a_full_cap_defers_until_a_permit_expires_and_names_the_cap() {
    let full = KeyState {
        permits: 2,
        earliest_expiry: Some(at(5_000)),
        ..KeyState::default()
    };
    let limits = [(cap("c", 2), full), (rate("r", 100), KeyState::default())];
    assert_eq!(
        decide(at(0), &limits, false),
        Decision::Defer {
            until: at(5_000),
            promised: vec![],
            waiting_on: Some("c".into())
        }
    );
    let room = KeyState {
        permits: 1,
        ..KeyState::default()
    };
    let limits = [(cap("c", 2), room)];
    assert_eq!(
        decide(at(0), &limits, false),
        Decision::Grant {
            tats: vec![],
            permits: vec!["c".into()]
        }
    );
}
