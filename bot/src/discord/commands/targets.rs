//! The target of `/mute` and `/warn`, read as `/ban` reads its own: a mirrored message (link or
//! id, asking which author when it carries several), an IP tag, or (administrators only) an IP
//! address or CIDR network; resolved to the networks a sanction covers.

use super::authors::{authors_of, pick_author};
use super::bans::message_id;
use super::reply;
use crate::bans::{self, Scope, Target};
use crate::discord::access::{self, Level};
use crate::discord::{Context, Error};

/// A target resolved to networks, with how staff see it.
pub(super) struct Resolved {
    pub networks: Vec<ipnet::IpNet>,
    pub tag: Option<String>,
    /// `nick (tag abc…)`, `tag abc…`, or `None` for an address (named by number only).
    pub shown: Option<String>,
    /// Device tags the sanction also covers: the message's, or the tag's senders'.
    pub devices: Vec<String>,
}

/// Resolve `target`, or answer the moderator why not (then `None`). `verb` words the answers
/// ("muted", "warned").
pub(super) async fn resolve(ctx: Context<'_>, target: &str, verb: &str) -> Result<Option<Resolved>, Error> {
    if let Some(message) = message_id(target) {
        let authors = authors_of(ctx, message).await?;
        if authors.is_empty() {
            reply(ctx, "That message is not a mirrored web message.").await?;
            return Ok(None);
        }
        let Some((nick, tag, ip, device)) = pick_author(ctx, authors).await? else {
            reply(ctx, format!("No author chosen; nobody was {verb}.")).await?;
            return Ok(None);
        };
        let ip: std::net::IpAddr = ip.parse().map_err(|_| "the author's address was already erased (retention)")?;
        let network = Scope::default_for(ip).network(ip);
        return Ok(Some(Resolved {
            networks: vec![network],
            shown: Some(format!("{nick} (tag {tag})")),
            tag: Some(tag),
            devices: device.into_iter().collect(),
        }));
    }
    let parsed = Target::parse(target)?;
    if parsed.tag().is_none() && !access::author_reaches(ctx, Level::Admin).await {
        let text =
            format!("Aiming at an IP address or network needs {}; use the IP tag instead.", Level::Admin.describe());
        reply(ctx, text).await?;
        return Ok(None);
    }
    let networks = bans::resolve(&ctx.data().db, &parsed, None).await?;
    let devices = bans::devices_for(&ctx.data().db, &parsed).await?;
    let tag = parsed.tag().map(str::to_owned);
    let shown = tag.as_ref().map(|t| format!("tag {t}"));
    Ok(Some(Resolved { networks, tag, shown, devices }))
}
