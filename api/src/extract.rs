//! Extractors whose rejections are `ApiError`s naming the field at fault.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use herald_core::ErrorCode;
use serde::de::DeserializeOwned;
use validator::Validate;

use herald_core::error::serde_field_path;

use crate::error::ApiError;

/// A JSON body, deserialised and then validated.
pub struct ValidJson<T>(pub T);

impl<S, T> FromRequest<S> for ValidJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|m| m.trim() == "application/json")
            });
        if !is_json {
            return Err(ApiError::new(
                ErrorCode::UnsupportedMediaType,
                "send the body as application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(body_rejection)?;
        let value = parse_json::<T>(&bytes)?;
        value.validate().map_err(herald_core::Error::from)?;
        Ok(Self(value))
    }
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_syntax() || inner.is_eof() {
            return ApiError::new(
                ErrorCode::MalformedJson,
                format!("the body is not valid JSON: {inner}"),
            );
        }
        let message = inner.to_string();
        ApiError::validation(serde_field_path(&path, &message, "body"), message)
    })
}

pub fn body_rejection(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(ErrorCode::PayloadTooLarge, rejection.body_text())
    } else {
        ApiError::new(ErrorCode::BadRequest, rejection.body_text())
    }
}

/// Path parameters. One that does not parse (`/v1/messages/abc`) names nothing that can
/// exist, so it is a 404 naming the parameter, in the usual JSON shape: every route
/// with a path parameter documents its 404 already.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Send,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        use axum::extract::RawPathParams;
        use axum::extract::path::ErrorKind;
        use axum::extract::rejection::PathRejection;
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Self(value)),
            Err(PathRejection::FailedToDeserializePathParams(failed)) => {
                // The parameter's name: given for a struct or map, found by position
                // among the route's parameters for a single value or a tuple.
                let nth = |index: usize| async move {
                    RawPathParams::from_request_parts(parts, state)
                        .await
                        .ok()
                        .and_then(|params| params.iter().nth(index).map(|(k, _)| k.to_owned()))
                };
                let field = match failed.kind() {
                    ErrorKind::ParseErrorAtKey { key, .. }
                    | ErrorKind::InvalidUtf8InPathParam { key } => Some(key.clone()),
                    ErrorKind::ParseErrorAtIndex { index, .. } => nth(*index).await,
                    ErrorKind::ParseError { .. } => nth(0).await,
                    _ => None,
                };
                let mut error = ApiError::new(
                    ErrorCode::NotFound,
                    format!("no such resource: {}", failed.body_text()),
                );
                if let Some(field) = field {
                    error = error.with_field(field);
                }
                Err(error)
            }
            Err(other) => Err(ApiError::internal(other.body_text())),
        }
    }
}

/// Query parameters, deserialised and then validated.
pub struct ValidQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ValidQuery<T>
where
    S: Send + Sync,
    T: DeserializeOwned + Validate,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        let value: T = serde_path_to_error::deserialize(deserializer).map_err(|error| {
            let path = error.path().to_string();
            let message = error.into_inner().to_string();
            ApiError::validation(serde_field_path(&path, &message, "query"), message)
        })?;
        value.validate().map_err(herald_core::Error::from)?;
        Ok(Self(value))
    }
}

/// The request's `x-request-id` (assigned by the outer layer when the client sent none).
pub struct RequestId(pub Option<String>);

impl RequestId {
    pub fn of(headers: &axum::http::HeaderMap) -> Self {
        Self(
            headers
                .get("x-request-id")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(&parts.headers))
    }
}
