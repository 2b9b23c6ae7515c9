//! The committed `openapi/openapi.json` must be what the code generates.

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json");

#[test]
fn committed_openapi_matches_the_code() {
    let generated = format!(
        "{}\n",
        serde_json::to_string_pretty(&herald_api::openapi_document()).unwrap()
    );
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(COMMITTED, &generated).expect("write openapi.json");
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date: run `cargo run -q -- openapi > openapi/openapi.json` \
         (or the tests with UPDATE_SNAPSHOTS=1) and commit it"
    );
}

#[test]
fn every_operation_documents_its_errors_and_security() {
    let document = serde_json::to_value(herald_api::openapi_document()).unwrap();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            assert!(
                operation.get("security").is_some(),
                "{method} {path} has no security"
            );
            let responses = operation["responses"].as_object().unwrap();
            let requires_auth = operation["security"].as_array().is_some_and(|s| {
                s.iter()
                    .any(|r| r.as_object().is_some_and(|o| !o.is_empty()))
            });
            if requires_auth {
                assert!(
                    responses.contains_key("401"),
                    "{method} {path} does not document 401"
                );
                // A subscriber token holds no permissions to lack: no 403 there.
                let subscriber_only = operation["security"]
                    .as_array()
                    .is_some_and(|s| s.iter().all(|r| r.get("subscriber_token").is_some()));
                assert!(
                    subscriber_only || responses.contains_key("403"),
                    "{method} {path} does not document 403"
                );
            }
        }
    }
}

/// Generated clients follow the document: a query parameter documented as a path
/// parameter (utoipa's default for `IntoParams`) would be sent in the wrong place.
#[test]
fn path_parameters_are_in_their_path_and_every_schema_reference_resolves() {
    let document = serde_json::to_value(herald_api::openapi_document()).unwrap();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let name = parameter["name"].as_str().unwrap();
                if parameter["in"] == "path" {
                    assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{method} {path}: `{name}` is documented as a path parameter"
                    );
                }
            }
        }
    }
    let schemas = document["components"]["schemas"].as_object().unwrap();
    let text = document.to_string();
    for reference in text.split("\"#/components/schemas/").skip(1) {
        let name = &reference[..reference.find('"').unwrap()];
        assert!(
            schemas.contains_key(name),
            "`{name}` is referenced but not defined"
        );
    }
}

/// OpenAPI requires a description on every response; a route that gives none gets one
/// from what the response carries.
#[test]
fn every_response_has_a_description() {
    let document = serde_json::to_value(herald_api::openapi_document()).unwrap();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for (status, response) in operation["responses"].as_object().unwrap() {
                let description = response["description"].as_str().unwrap_or_default();
                assert!(
                    !description.trim().is_empty(),
                    "{method} {path} {status} has no description"
                );
            }
        }
    }
    let created = &document["paths"]["/v1/templates"]["post"]["responses"]["201"];
    assert!(
        created["description"]
            .as_str()
            .unwrap()
            .starts_with("Created: the new"),
        "{created}"
    );
}

/// Generated clients name each operation by its id: two handlers of the same name in
/// different route files would collide.
#[test]
fn operation_ids_are_unique() {
    let document = serde_json::to_value(herald_api::openapi_document()).unwrap();
    let mut seen = std::collections::HashMap::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let id = operation["operationId"].as_str().unwrap_or_default();
            if let Some(first) = seen.insert(id.to_owned(), format!("{method} {path}")) {
                panic!("operationId `{id}` names both {first} and {method} {path}");
            }
        }
    }
}
