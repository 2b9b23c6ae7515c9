//! Lists, for every operation, each error status it can answer and the codes that
//! status carries, as an `enum` on the error body's `code`, so a client (or a fuzzer
//! checking conformance) knows exactly what to expect.
//!
//! Most codes follow from what the operation is: its security (401, 403), its body
//! (400, 413, 415, 422), its query (422) and path (404) parameters. The rest are the
//! operation's own (409 conflicts, four-eyes refusals, stream limits), listed in
//! [`OWN_CODES`]. Two answers any operation may give are left out, as the document's
//! description says: 408 `timeout` and 500 `internal`. The test suite records every
//! answer its requests got and fails on one the document does not list.

use std::collections::{BTreeMap, BTreeSet};

use herald_core::ErrorCode::{self, *};
use serde_json::{Value, json};
use utoipa::openapi::OpenApi;

use crate::auth::access::{API_KEY_SCHEME, SESSION_SCHEME, SUBSCRIBER_TOKEN_SCHEME};

/// Codes that only some operations answer, by `METHOD path`.
const OWN_CODES: &[(&str, &[ErrorCode])] = &[
    ("GET /readyz", &[Unavailable]),
    (
        "POST /v1/auth/login",
        &[InvalidCredentials, TooManyAttempts, Unavailable],
    ),
    ("POST /v1/audiences", &[AudienceNameTaken]),
    ("DELETE /v1/audiences/{id}", &[InUse]),
    ("POST /v1/audiences/{id}/members", &[AudienceNotAList]),
    ("PUT /v1/campaigns/{id}", &[InvalidTransition]),
    (
        "POST /v1/campaigns/{id}/submit",
        &[InvalidTransition, BannedWords],
    ),
    (
        "POST /v1/campaigns/{id}/approve",
        &[InvalidTransition, ReviewerIsEditor, ReviewerIsSubmitter],
    ),
    (
        "POST /v1/campaigns/{id}/reject",
        &[InvalidTransition, ReviewerIsEditor, ReviewerIsSubmitter],
    ),
    (
        "POST /v1/campaigns/{id}/schedule",
        &[InvalidTransition, ApprovalInvalidated],
    ),
    ("POST /v1/campaigns/{id}/pause", &[InvalidTransition]),
    ("POST /v1/campaigns/{id}/resume", &[InvalidTransition]),
    ("POST /v1/campaigns/{id}/cancel", &[InvalidTransition]),
    ("POST /v1/channels", &[NameTaken]),
    ("PUT /v1/channels/{name}", &[NameTaken, InUse]),
    ("DELETE /v1/channels/{name}", &[InUse]),
    ("POST /v1/messages", &[BannedWords]),
    ("POST /v1/operators", &[UsernameTaken]),
    ("PATCH /v1/operators/{id}", &[LastAdmin]),
    ("POST /v1/templates", &[TemplateNameTaken, BannedWords]),
    ("POST /v1/templates/{id}/versions", &[BannedWords]),
    // A link whose token does not verify.
    ("GET /v1/unsubscribe/{token}", &[ValidationFailed]),
    ("POST /v1/unsubscribe/{token}", &[ValidationFailed]),
    // A recipient that could never be an external id.
    (
        "GET /v1/deliveries/shared/{item_id}/{recipient}",
        &[ValidationFailed],
    ),
    ("GET /v1/inbox/poll", &[TooManyStreams]),
    ("GET /v1/stream/sse", &[TooManyStreams]),
    ("GET /v1/stream/iframe", &[TooManyStreams]),
    // A request that is not a WebSocket handshake.
    ("GET /v1/stream/ws", &[TooManyStreams, BadRequest]),
];

/// The operations' error responses, rewritten with their codes. Each path item goes
/// through JSON: the document's own types keep security requirements opaque.
pub fn document_errors(document: &mut OpenApi) {
    let own: BTreeMap<&str, &[ErrorCode]> = OWN_CODES.iter().copied().collect();
    for (path, item) in &mut document.paths.paths {
        let Ok(mut value) = serde_json::to_value(&*item) else {
            continue;
        };
        let Some(operations) = value.as_object_mut() else {
            continue;
        };
        let methods = ["get", "put", "post", "delete", "patch"];
        for (method, operation) in operations.iter_mut() {
            if !methods.contains(&method.as_str()) {
                continue;
            }
            let key = format!("{} {path}", method.to_uppercase());
            let mut codes = derived_codes(method, operation);
            codes.extend(own.get(key.as_str()).copied().unwrap_or_default());
            write_codes(operation, &codes);
        }
        // Cannot fail for what was just serialised; a test checks every response.
        if let Ok(rewritten) = serde_json::from_value(value) {
            *item = rewritten;
        }
    }
}

/// The codes an operation answers by what it is.
fn derived_codes(method: &str, operation: &Value) -> BTreeSet<ErrorCode> {
    let mut codes = BTreeSet::new();
    let requirements = operation["security"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let scheme_used = |name: &str| requirements.iter().any(|r| r.get(name).is_some());
    let (session, api_key, subscriber) = (
        scheme_used(SESSION_SCHEME),
        scheme_used(API_KEY_SCHEME),
        scheme_used(SUBSCRIBER_TOKEN_SCHEME),
    );
    if session || api_key || subscriber {
        codes.insert(Unauthenticated);
    }
    if session {
        codes.insert(SessionExpired);
        if !matches!(method, "get" | "head" | "options") {
            codes.insert(CsrfFailed);
        }
    }
    if api_key {
        codes.insert(InvalidApiKey);
    }
    if subscriber {
        codes.insert(InvalidToken);
    }
    // A missing scope, or a credential of another kind than the route takes (an API
    // key on a route for sessions only).
    if session || api_key {
        codes.insert(Forbidden);
    }
    if let Some(body) = operation["requestBody"]["content"].as_object() {
        codes.extend([PayloadTooLarge, UnsupportedMediaType, ValidationFailed]);
        codes.insert(if body.contains_key("application/json") {
            MalformedJson
        } else {
            BadRequest
        });
    }
    for parameter in operation["parameters"].as_array().into_iter().flatten() {
        match parameter["in"].as_str() {
            Some("query") => {
                codes.insert(ValidationFailed);
            }
            Some("path") => {
                codes.insert(NotFound);
                // External ids are the product's: one that could never be stored is
                // named as invalid rather than not found.
                if parameter["name"] == "external_id" {
                    codes.insert(ValidationFailed);
                }
            }
            _ => {}
        }
    }
    codes
}

/// Replaces the operation's error responses with one per status of `codes`, each
/// naming its codes. A status the annotations documented keeps its place only if some
/// code has it.
fn write_codes(operation: &mut Value, codes: &BTreeSet<ErrorCode>) {
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    let mut by_status: BTreeMap<u16, Vec<ErrorCode>> = BTreeMap::new();
    for code in codes {
        by_status.entry(code.status()).or_default().push(*code);
    }
    // A status the annotations document that has one code only (404 `not_found`).
    for status in responses.keys().filter_map(|s| s.parse::<u16>().ok()) {
        let mut only = ErrorCode::ALL.iter().filter(|code| code.status() == status);
        if let (Some(code), None) = (only.next(), only.next()) {
            let listed = by_status.entry(status).or_default();
            if !listed.contains(code) {
                listed.push(*code);
            }
        }
    }
    responses.retain(|status, _| !status.starts_with('4') && !status.starts_with('5'));
    for (status, codes) in by_status {
        let description = codes
            .iter()
            .map(|code| format!("`{code}`: {}", code.meaning()))
            .collect::<Vec<_>>()
            .join("; ");
        let names: Vec<&str> = codes.iter().map(|code| code.as_str()).collect();
        responses.insert(
            status.to_string(),
            json!({
                "description": description,
                "content": { "application/json": { "schema": { "allOf": [
                    { "$ref": "#/components/schemas/ErrorBody" },
                    { "type": "object", "properties": { "error": {
                        "type": "object",
                        "properties": { "code": { "type": "string", "enum": names } }
                    } } }
                ] } } }
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_own_code_entry_names_a_documented_operation() {
        let document = crate::app::openapi_document();
        let value = serde_json::to_value(&document).unwrap();
        for (key, _) in OWN_CODES {
            let (method, path) = key.split_once(' ').unwrap();
            assert!(
                value["paths"][path][method.to_lowercase()].is_object(),
                "{key} is not an operation"
            );
        }
    }

    #[test]
    fn every_error_response_names_its_codes() {
        let value = serde_json::to_value(crate::app::openapi_document()).unwrap();
        for (path, item) in value["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                for (status, response) in operation["responses"].as_object().unwrap() {
                    if status.starts_with('4') || status.starts_with('5') {
                        let codes = &response["content"]["application/json"]["schema"]["allOf"][1]
                            ["properties"]["error"]["properties"]["code"]["enum"];
                        assert!(
                            codes.as_array().is_some_and(|c| !c.is_empty()),
                            "{method} {path} {status} names no code"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn every_code_but_the_global_ones_is_answered_by_some_operation() {
        let value = serde_json::to_value(crate::app::openapi_document()).unwrap();
        let text = value["paths"].to_string();
        for code in ErrorCode::ALL {
            if matches!(code, Timeout | Internal | MethodNotAllowed | AlreadyExists) {
                continue;
            }
            assert!(
                text.contains(&format!("\"{code}\"")),
                "{code} is never documented"
            );
        }
    }
}
