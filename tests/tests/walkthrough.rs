//! The README's walkthrough, run as written: the demo is seeded into the four services
//! running as processes, then every grpcurl call of the walkthrough is made through server
//! reflection, with the variables the README's shell would have.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

use std::collections::HashMap;
use std::time::Duration;

use trellis_e2e::cluster::Cluster;
use trellis_e2e::grpcurl::{Step, jq_path, parse_command, walkthrough_steps};
use trellis_e2e::reflect::ReflectionCaller;
use trellis_platform::config::ServiceKind;
use trellis_testkit::tokens::minter;

const PATIENCE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread")]
async fn the_readme_walkthrough_works_as_printed() {
    let cluster = Cluster::start(&HashMap::new()).await;
    let data_server = trellis_demo::data_server::spawn("127.0.0.1:0".parse().unwrap())
        .await
        .expect("the demo data server starts");
    let mut env = trellis_demo::seed::seed(
        &cluster.library.url(),
        &format!("http://{data_server}"),
        &minter(),
    )
    .await
    .expect("the demo seeds");

    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("the README");
    let steps = walkthrough_steps(&readme).expect("the walkthrough reads");
    assert!(steps.len() >= 6, "the walkthrough has its calls: {steps:?}");

    let mut last_answer = serde_json::Value::Null;
    for step in steps {
        match step {
            Step::Call {
                capture,
                command,
                patient,
            } => {
                let call = parse_command(&command, |name| env.get(name).cloned())
                    .unwrap_or_else(|error| panic!("{error}"));
                let kind = service_at(&call.address);
                let mut caller = ReflectionCaller::new(cluster.channel(kind));
                let deadline = tokio::time::Instant::now() + PATIENCE;
                let answer = loop {
                    let result = caller.call(&call.method, &call.body, &call.headers).await;
                    match result {
                        Ok(answer) if !patient || !has_error(&answer) => break answer,
                        other if patient && tokio::time::Instant::now() < deadline => {
                            drop(other);
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                        Ok(answer) => panic!("{}\nstill has errors: {answer:#}", call.line),
                        Err(status) => panic!("{}\nfailed: {status:?}", call.line),
                    }
                };
                if let Some(name) = capture {
                    env.insert(name, answer.to_string());
                }
                last_answer = answer;
            }
            Step::Extract { name, from, path } => {
                let json: serde_json::Value =
                    serde_json::from_str(&env[&from]).expect("a captured answer");
                let value = jq_path(&json, &path)
                    .unwrap_or_else(|| panic!("{path} is not in ${from}: {json:#}"));
                env.insert(name, value);
            }
        }
    }

    // The last call renders Acme's instance: its Total is Acme's, not the partner's default.
    let expected: f64 = trellis_demo::data_server::sales_of("acme")["sales"]
        .as_array()
        .expect("sales")
        .iter()
        .map(|month| month["amount"].as_f64().expect("an amount"))
        .sum();
    let total = last_answer["renderedKlip"]["components"]
        .as_array()
        .expect("rendered components")
        .iter()
        .find(|component| component["name"] == "Total")
        .and_then(|component| component["values"][0].as_f64())
        .unwrap_or_else(|| panic!("a Total in {last_answer:#}"));
    assert_eq!(total, expected, "Acme's Klip shows Acme's sales (I13)");
}

/// The README names services by their default ports.
fn service_at(address: &str) -> ServiceKind {
    let port: u16 = address
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {address}"));
    ServiceKind::ALL
        .into_iter()
        .find(|kind| kind.default_port() == port)
        .unwrap_or_else(|| panic!("no service on port {port}"))
}

/// True when any `error` field of the answer is set (a component that could not render).
fn has_error(answer: &serde_json::Value) -> bool {
    match answer {
        serde_json::Value::Object(map) => map.iter().any(|(key, value)| {
            (key == "error" && value.as_str().is_some_and(|e| !e.is_empty())) || has_error(value)
        }),
        serde_json::Value::Array(items) => items.iter().any(has_error),
        _ => false,
    }
}
