//! Every answer a test app gave must be one the OpenAPI document lists for the
//! operation that gave it: its status and, for an error, its code. Read from the
//! server's request metrics (counted by route template, status and code) when the app
//! is dropped, so every test of the suite checks the contract as it goes.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

/// (METHOD, route template) → status → the codes documented for it (empty for a
/// success).
type Contract = BTreeMap<(String, String), BTreeMap<String, BTreeSet<String>>>;

fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let document = serde_json::to_value(herald_api::openapi_document()).expect("document");
        let mut contract = Contract::new();
        for (path, item) in document["paths"].as_object().expect("paths") {
            for (method, operation) in item.as_object().expect("path item") {
                let Some(responses) = operation["responses"].as_object() else {
                    continue;
                };
                let statuses = responses
                    .iter()
                    .map(|(status, response)| {
                        let codes = response["content"]["application/json"]["schema"]["allOf"][1]
                            ["properties"]["error"]["properties"]["code"]["enum"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|code| code.as_str().map(str::to_owned))
                            .collect();
                        (status.clone(), codes)
                    })
                    .collect();
                contract.insert((method.to_uppercase(), path.clone()), statuses);
            }
        }
        contract
    })
}

/// The answers in `metrics` (the server's rendered metrics) that the document does not
/// list, described for a failure message.
pub fn undocumented_answers(metrics: &str) -> Vec<String> {
    let mut problems = Vec::new();
    for line in metrics.lines() {
        let Some(labels) = line
            .strip_prefix("herald_http_requests_total{")
            .and_then(|rest| rest.rsplit_once("} "))
            .map(|(labels, _)| labels)
        else {
            continue;
        };
        let label = |name: &str| {
            labels
                .split(',')
                .find_map(|pair| pair.strip_prefix(&format!("{name}=\"")))
                .map(|value| value.trim_end_matches('"').to_owned())
                .unwrap_or_default()
        };
        let (mut method, route, status, code) = (
            label("method"),
            label("route"),
            label("status"),
            label("code"),
        );
        // HEAD is answered as GET; 408 (the request timeout) any operation may give.
        if method == "HEAD" {
            method = "GET".into();
        }
        if status == "408" {
            continue;
        }
        let answer = format!("{method} {route} answered {status} {code}");
        match contract().get(&(method, route)) {
            // A method the route does not take.
            None if status == "405" => {}
            None => problems.push(format!("{answer}: no such operation in the document")),
            Some(statuses) => match statuses.get(&status) {
                None => problems.push(format!("{answer}: status not documented")),
                Some(codes) if !code.is_empty() && !codes.contains(&code) => {
                    problems.push(format!(
                        "{answer}: code not documented (documented: {codes:?})"
                    ));
                }
                Some(_) => {}
            },
        }
    }
    problems
}
