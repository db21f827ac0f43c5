//! IP tags: staff see a short keyed hash of a sender's address (HMAC-SHA256 with a server
//! secret), never the address itself, and ban by it.

use std::net::{IpAddr, Ipv6Addr};

use hmac::{Hmac, Mac};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, DatabaseConnection, EntityTrait};
use sha2::Sha256;

use crate::BotError;
use crate::entities::settings;

const SECRET_KEY: &str = "ip_tag_secret";

/// Bytes of HMAC a tag keeps: 6 (48 bits, 12 hex characters). With 32-bit tags two of 77 000
/// addresses share a tag with even odds (the birthday bound), so `/ban tag` could hit a
/// stranger; at 48 bits that takes about 20 million. Tags made before (8 characters) stay in
/// the log and in bans, and are still looked up (see [`is_tag`], [`tag_match`]).
pub const TAG_BYTES: usize = 6;

/// Lengths of tags handed out: 12 now, 8 before.
pub const TAG_LENGTHS: [usize; 2] = [TAG_BYTES * 2, 8];

/// Whether `raw` (lowercase) is an IP tag: 12 (or the older 8) lowercase hex characters.
pub fn is_tag(raw: &str) -> bool {
    TAG_LENGTHS.contains(&raw.len()) && raw.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Rows of column `column` (a described tag: `tag`, or `tag · /64 nettag` for IPv6) whose own
/// tag is `tag`, exactly: an old 8-character tag never matches a new 12-character one that
/// happens to start with it. `net64` instead matches rows whose /64 tag is `tag` (a scan, for
/// the IPv6 network tags shown in footers).
pub fn tag_match<C: sea_orm::ColumnTrait>(column: C, tag: &str, net64: bool) -> sea_orm::Condition {
    if net64 {
        return sea_orm::Condition::all().add(column.ends_with(format!("/64 {tag}")));
    }
    tag_range(column, tag).add(sea_orm::Condition::any().add(column.eq(tag)).add(column.starts_with(format!("{tag} "))))
}

/// Computes tags with one secret.
#[derive(Clone)]
pub struct IpTagger {
    key: Vec<u8>,
}

impl std::fmt::Debug for IpTagger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IpTagger(<secret>)")
    }
}

impl IpTagger {
    pub fn new(secret: &[u8]) -> Self {
        Self { key: secret.to_vec() }
    }

    /// `IP_TAG_SECRET` when configured; otherwise a secret generated once and kept in the
    /// database, so tags stay stable across restarts.
    pub async fn load(db: &DatabaseConnection, configured: Option<&str>) -> Result<Self, BotError> {
        if let Some(secret) = configured {
            return Ok(Self::new(secret.as_bytes()));
        }
        if let Some(row) = settings::Entity::find_by_id(SECRET_KEY).one(db).await? {
            return Ok(Self::new(row.value.as_bytes()));
        }
        let bytes: [u8; 32] = rand::random();
        let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        settings::ActiveModel { key: Set(SECRET_KEY.to_owned()), value: Set(secret.clone()) }.insert(db).await?;
        tracing::info!("generated the IP tag secret (kept in the database; set IP_TAG_SECRET to choose one)");
        Ok(Self::new(secret.as_bytes()))
    }

    /// The deployment key: one secret every gateway shares (the proof-of-work gate's key is
    /// derived from it), derived from this secret with a purpose label so the IP tag secret
    /// itself never leaves the bot. 64 hex characters.
    pub fn deployment_key(&self) -> String {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&self.key) else {
            return String::new();
        };
        mac.update(b"chatroulette deployment key v1");
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }

    fn hash(&self, input: &str) -> String {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.key) {
            Ok(mac) => mac,
            Err(_) => return String::from("????????"),
        };
        mac.update(input.as_bytes());
        mac.finalize().into_bytes().iter().take(TAG_BYTES).map(|b| format!("{b:02x}")).collect()
    }

    /// The tag of one address (IPv4-mapped IPv6 counts as IPv4).
    pub fn tag(&self, ip: IpAddr) -> String {
        self.hash(&format!("ip:{}", ip.to_canonical()))
    }

    /// The tag of an IPv6 address's /64 network, which one household or phone usually owns.
    pub fn tag_net64(&self, ip: Ipv6Addr) -> String {
        let s = ip.segments();
        let net = Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0);
        self.hash(&format!("net:{net}/64"))
    }

    /// What staff see in an embed footer: the tag, plus the /64's tag for IPv6.
    pub fn describe(&self, ip: IpAddr) -> String {
        match ip.to_canonical() {
            IpAddr::V4(_) => self.tag(ip),
            IpAddr::V6(v6) => format!("{} · /64 {}", self.tag(ip), self.tag_net64(v6)),
        }
    }
}

/// Rows whose tag `column` starts with `tag` (a 12- or 8-character tag; IPv6 rows carry the /64's
/// tag after it), as a range over the column: `LIKE 'tag%'` is not served by an index in
/// SQLite (its LIKE ignores case) nor in PostgreSQL outside the C collation. The upper bound is
/// the tag with its last hex digit stepped up (`9` to `a`, `f` to `g`), which sorts after every
/// row of the tag in byte order and in linguistic collations alike (a step from `9` to `:`
/// would not: collations skip punctuation).
pub fn tag_range<C: sea_orm::ColumnTrait>(column: C, tag: &str) -> sea_orm::Condition {
    let lower_hex = |b: &u8| b.is_ascii_digit() || (b'a'..=b'f').contains(b);
    let stepped = match tag.as_bytes().split_last() {
        Some((&last, head)) if head.iter().all(lower_hex) => match last {
            b'0'..=b'8' | b'a'..=b'f' => Some(last + 1),
            b'9' => Some(b'a'),
            _ => None,
        }
        .map(|last| format!("{}{}", &tag[..head.len()], char::from(last))),
        _ => None,
    };
    match stepped {
        Some(upper) => sea_orm::Condition::all().add(column.gte(tag)).add(column.lt(upper)),
        // Not a tag we hand out: match it the slow way.
        None => sea_orm::Condition::all().add(column.starts_with(tag)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_is_looked_up_as_a_range_of_the_column() {
        use crate::entities::visitor_tails::{Column, Entity};
        use sea_orm::{DbBackend, QueryFilter, QueryTrait};
        let sql = |tag: &str| Entity::find().filter(tag_range(Column::IpTag, tag)).build(DbBackend::Sqlite).to_string();
        let nine = sql("abcd1239");
        assert!(nine.contains(r#""ip_tag" >= 'abcd1239' AND "visitor_tails"."ip_tag" < 'abcd123a'"#), "{nine}");
        assert!(sql("abcd123f").contains("< 'abcd123g'"));
        assert!(sql("0000000e").contains("< '0000000f'"));
        assert!(!nine.contains("LIKE"));
        // Anything else is matched as a prefix, the slow way.
        assert!(sql("abcd123z").contains("LIKE 'abcd123z%'"));
        assert!(sql("").contains("LIKE '%'"));
    }

    #[test]
    fn tags_are_stable_keyed_and_short() {
        let a = IpTagger::new(b"one");
        let b = IpTagger::new(b"two");
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(a.tag(ip), a.tag(ip));
        assert_ne!(a.tag(ip), b.tag(ip), "the secret matters");
        assert_eq!(a.tag(ip).len(), 12);
        assert!(is_tag(&a.tag(ip)) && is_tag("abcd1234") && !is_tag("abcd12345") && !is_tag("ABCD1234"));
        assert!(!a.describe(ip).contains("203"));
        let mapped: IpAddr = "::ffff:203.0.113.9".parse().unwrap();
        assert_eq!(a.tag(mapped), a.tag(ip));
    }

    #[test]
    fn ipv6_neighbours_share_the_net_tag() {
        let t = IpTagger::new(b"k");
        let x: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap();
        let y: Ipv6Addr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let z: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(t.tag_net64(x), t.tag_net64(y));
        assert_ne!(t.tag_net64(x), t.tag_net64(z));
        assert_ne!(t.tag(x.into()), t.tag(y.into()));
        assert!(t.describe(x.into()).contains("/64"));
    }
}
