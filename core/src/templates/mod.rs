//! Templates: named, versioned content per channel, rendered strictly with minijinja.

pub mod content;
pub mod limits;
pub mod render;
pub mod store;

pub use content::TemplateContent;
pub use render::{CompiledContent, RenderContext, RenderedContent, check};
