//! What one render may cost. Templates are written by operators and previewed by anyone
//! with the viewer role, so a render must not be able to loop for ever, recurse without
//! end or produce unbounded output: each limit turns into a render error that names the
//! part (a 422 in preview and at save, a failed delivery at send).

use std::io;

use minijinja::value::Value;
use minijinja::{ErrorKind, Output, State};

/// Instructions one part may execute. A long newsletter with a loop over a hundred
/// items uses a few thousand; a runaway loop meets this long before it costs a second.
pub const FUEL: u64 = 200_000;

/// Nested macro calls, includes and blocks one render may stack.
pub const RECURSION_LIMIT: usize = 32;

/// Bytes one rendered part may produce. Mail clients clip messages far below this.
pub const MAX_OUTPUT_BYTES: usize = 512 * 1024;

/// Emits a `{{ … }}` value with the default escaping, after adding its length to the
/// render's running total: past [`MAX_OUTPUT_BYTES`] the render stops with an error that
/// carries the expression's line. (Literal text between tags is caught by
/// [`BoundedOutput`], which cannot tell the line.)
pub(super) fn counting_formatter(
    out: &mut Output,
    state: &mut State,
    value: &Value,
) -> Result<(), minijinja::Error> {
    let length = value.as_str().map_or(0, str::len) as u64;
    let emitted = state
        .get_temp(EMITTED)
        .and_then(|total| u64::try_from(total).ok())
        .unwrap_or(0)
        .saturating_add(length);
    if emitted > MAX_OUTPUT_BYTES as u64 {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            OutputLimit {
                limit: MAX_OUTPUT_BYTES,
            }
            .to_string(),
        ));
    }
    state.set_temp(EMITTED, Value::from(emitted));
    minijinja::escape_formatter(out, state, value)
}

/// The render-local temp holding the bytes emitted so far.
const EMITTED: &str = "herald.emitted_bytes";

/// A buffer that refuses to grow past `limit`; the refusal stops the render.
pub(super) struct BoundedOutput {
    buffer: Vec<u8>,
    limit: usize,
}

impl BoundedOutput {
    pub(super) fn new(limit: usize) -> Self {
        Self {
            buffer: Vec::new(),
            limit,
        }
    }

    pub(super) fn into_string(self) -> String {
        // minijinja writes whole `str`s, so the bytes are valid UTF-8.
        String::from_utf8(self.buffer)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }
}

/// The error a full [`BoundedOutput`] answers with, recognised by [`is_output_limit`].
#[derive(Debug, thiserror::Error)]
#[error("the rendered text exceeds {limit} bytes")]
struct OutputLimit {
    limit: usize,
}

impl io::Write for BoundedOutput {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.buffer.len() + bytes.len() > self.limit {
            return Err(io::Error::other(OutputLimit { limit: self.limit }));
        }
        self.buffer.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The output limit's message when `error` is the refusal of a full buffer.
pub(super) fn output_limit_message(error: &minijinja::Error) -> Option<String> {
    let io = std::error::Error::source(error)?.downcast_ref::<io::Error>()?;
    let limit = io.get_ref()?.downcast_ref::<OutputLimit>()?;
    Some(limit.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn the_buffer_keeps_what_fits_and_refuses_the_rest() {
        let mut out = BoundedOutput::new(5);
        out.write_all(b"abc").unwrap();
        assert!(out.write_all(b"def").is_err());
        out.write_all(b"de").unwrap();
        assert_eq!(out.into_string(), "abcde");
    }
}
