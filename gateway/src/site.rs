//! The web client, embedded into the binary at build time from `site/`.

#[derive(rust_embed::RustEmbed)]
#[folder = "../site/"]
pub struct Assets;
