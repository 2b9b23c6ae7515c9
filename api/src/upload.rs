//! Streamed request bodies for bulk uploads, limited in size as they stream (a chunked
//! upload has no Content-Length to check up front).

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::body::Body;
use axum::http::HeaderMap;
use axum::http::header::CONTENT_LENGTH;
use futures::{Stream, TryStreamExt};
use herald_core::ErrorCode;
use tokio_util::io::StreamReader;

use crate::error::ApiError;

/// Tells, after the read, whether an upload was cut off for its size.
pub struct SizeGuard {
    exceeded: Arc<AtomicBool>,
    limit: usize,
}

pub fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        ErrorCode::PayloadTooLarge,
        format!("an upload may be at most {limit} bytes; split it"),
    )
}

/// Streams `body`, failing the read once more than `limit` bytes arrived.
#[allow(clippy::type_complexity)]
pub fn limited(
    body: Body,
    headers: &HeaderMap,
    limit: usize,
) -> Result<
    (
        StreamReader<impl Stream<Item = io::Result<bytes::Bytes>> + Send + Unpin, bytes::Bytes>,
        SizeGuard,
    ),
    ApiError,
> {
    let declared = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large(limit));
    }
    let exceeded = Arc::new(AtomicBool::new(false));
    let flag = exceeded.clone();
    let mut seen = 0usize;
    let stream = body
        .into_data_stream()
        .map_err(io::Error::other)
        .and_then(move |chunk| {
            seen += chunk.len();
            let result = if seen > limit {
                flag.store(true, Ordering::Relaxed);
                Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "upload too large",
                ))
            } else {
                Ok(chunk)
            };
            std::future::ready(result)
        });
    Ok((StreamReader::new(stream), SizeGuard { exceeded, limit }))
}

impl SizeGuard {
    /// The error to answer with: 413 when the read failed because of the size limit.
    pub fn explain(&self, error: herald_core::Error) -> ApiError {
        if self.exceeded.load(Ordering::Relaxed) {
            too_large(self.limit)
        } else {
            error.into()
        }
    }
}
