//! A description for every success response that a route left without one, from what
//! the response carries: "Created: the new `Template`", "Done; no body". OpenAPI
//! requires a description on every response; the error responses get theirs in
//! [`super::document_errors`].

use utoipa::openapi::schema::{ArrayItems, Schema};
use utoipa::openapi::{OpenApi, RefOr, Response};

pub fn describe_successes(document: &mut OpenApi) {
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, response) in &mut operation.responses.responses {
                if let RefOr::T(response) = response
                    && response.description.is_empty()
                {
                    response.description = describe(status, response);
                }
            }
        }
    }
}

fn describe(status: &str, response: &Response) -> String {
    let carried = response.content.iter().next().map(|(media, content)| {
        let schema = match content {
            RefOr::T(content) => content.schema.as_ref(),
            RefOr::Ref(_) => None,
        };
        match schema {
            Some(RefOr::Ref(reference)) => format!("`{}`", name(&reference.ref_location)),
            Some(RefOr::T(Schema::Array(array))) => match &array.items {
                ArrayItems::RefOrSchema(item) => match item.as_ref() {
                    RefOr::Ref(reference) => {
                        format!("list of `{}`", name(&reference.ref_location))
                    }
                    RefOr::T(_) => "list".to_owned(),
                },
                ArrayItems::False => "list".to_owned(),
            },
            _ => format!("`{media}` body"),
        }
    });
    match (status, carried) {
        ("201", Some(what)) => format!("Created: the new {what}"),
        ("202", Some(what)) => format!("Accepted: {what}"),
        ("204", _) => "Done; no body".to_owned(),
        (_, Some(what)) => format!("OK: {what}"),
        (_, None) => "OK; no body".to_owned(),
    }
}

/// `Template` from `#/components/schemas/Template`.
fn name(location: &str) -> &str {
    location.rsplit('/').next().unwrap_or(location)
}
