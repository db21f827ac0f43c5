//! Warnings and the ladder they climb (`/warn`).
//!
//! A warning is a case of its own (kind `warn`), told at once to the matching connected
//! visitors (`warned {case, reason}` through [`ControlEvent::Warned`]). Warnings are counted per
//! target: its IP tag, or else its networks (the case's `subject`), and per device tag where
//! the target's is known (`cases.device`), so a new address does not start the count again. When the count reaches a rung
//! of the ladder (`WARN_LADDER`), the rung's sanction applies itself as a case of its own, by the
//! same [`crate::mutes::impose`] or [`crate::bans::impose`] a moderator uses.
//!
//! `WARN_LADDER` is a comma-separated list of rungs `COUNT:ACTION[:DURATION]`: `COUNT` warnings
//! (1 to 1000) lead to `ACTION` (`mute` or `ban`) for `DURATION` (`30s`, `10m`, `24h`, `7d`,
//! `1w`; left out: until lifted). Default `2:mute:10m,3:ban:24h`; `off` (or empty) turns the
//! ladder off. Counts must differ.

use std::time::Duration;

use ipnet::IpNet;
use protocol::ControlEvent;
use sea_orm::DatabaseConnection;

use crate::BotError;
use crate::entities::cases;

/// `WARN_LADDER`'s default.
pub const DEFAULT_LADDER: &str = "2:mute:10m,3:ban:24h";

/// What a rung does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sanction {
    Mute,
    Ban,
}

/// One rung: at `count` warnings, `sanction` for `duration` (`None`: until lifted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rung {
    pub count: u64,
    pub sanction: Sanction,
    pub duration: Option<Duration>,
}

/// The warning ladder, rungs by count.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ladder {
    pub rungs: Vec<Rung>,
}

impl Ladder {
    /// Parse `WARN_LADDER` (see the module doc); the error says what is wrong, for the
    /// configuration error that names the variable.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.is_empty() || raw.eq_ignore_ascii_case("off") {
            return Ok(Self::default());
        }
        let mut rungs: Vec<Rung> = Vec::new();
        for part in raw.split(',') {
            let part = part.trim();
            let bad = |why: &str| format!("{part:?} is not a rung COUNT:ACTION[:DURATION] like 2:mute:10m ({why})");
            let mut fields = part.split(':');
            let count: u64 = fields
                .next()
                .and_then(|c| c.trim().parse().ok())
                .filter(|c| (1..=1000).contains(c))
                .ok_or_else(|| bad("COUNT is a number of warnings from 1 to 1000"))?;
            let sanction = match fields.next().map(str::trim) {
                Some("mute") => Sanction::Mute,
                Some("ban") => Sanction::Ban,
                _ => return Err(bad("ACTION is mute or ban")),
            };
            let duration = match fields.next().map(str::trim) {
                None | Some("") => None,
                Some(d) => Some(crate::bans::parse_duration(d).map_err(|e| bad(&e.to_string()))?),
            };
            if fields.next().is_some() {
                return Err(bad("too many fields"));
            }
            if rungs.iter().any(|r| r.count == count) {
                return Err(format!("two rungs at {count} warnings"));
            }
            rungs.push(Rung { count, sanction, duration });
        }
        rungs.sort_by_key(|r| r.count);
        Ok(Self { rungs })
    }

    /// The rung reached at exactly `count` warnings.
    pub fn at(&self, count: u64) -> Option<&Rung> {
        self.rungs.iter().find(|r| r.count == count)
    }
}

/// A warning as a moderator gives it, its target resolved to networks.
#[derive(Debug, Clone)]
pub struct NewWarning<'a> {
    pub networks: Vec<IpNet>,
    pub tag: Option<&'a str>,
    /// How staff name the target.
    pub shown: String,
    pub reason: &'a str,
    pub by: &'a str,
    /// The target's device tags, when known: warnings count per device too, and the warning
    /// reaches that device's sockets from any address.
    pub devices: Vec<String>,
}

/// What [`warn`] did: the warning's case, how many warnings the target has had, and the
/// ladder's sanction if a rung was reached.
#[derive(Debug, Clone)]
pub struct Warned {
    pub case: cases::Model,
    pub count: u64,
    pub escalation: Option<cases::Model>,
}

/// Warn: open the case, tell matching visitors on `bus`, and climb the ladder.
pub async fn warn(
    db: &DatabaseConnection,
    bus: Option<&dyn bus::Bus>,
    ladder: &Ladder,
    warning: NewWarning<'_>,
) -> Result<Warned, BotError> {
    if warning.reason.trim().is_empty() {
        return Err(BotError::Invalid("a warning needs a reason: it is what the visitor is shown".into()));
    }
    let subject = crate::cases::subject(warning.tag, &warning.networks);
    let new_case = crate::cases::NewCase {
        kind: "warn",
        target: &warning.shown,
        subject: Some(subject.clone()),
        actor: warning.by,
        reason: warning.reason,
        details: "",
        expires: None,
    };
    let mut case = crate::cases::open(db, new_case).await?;
    let device = warning.devices.first().map(String::as_str);
    crate::cases::set_device(db, case.id, device).await?;
    let count = crate::cases::warnings_of(db, &subject, device).await?;
    case = crate::cases::amend(db, case.id, &case.target, &format!("warning {count}")).await?;
    if let Some(bus) = bus {
        let event = ControlEvent::Warned {
            case: case.id,
            networks: warning.networks.iter().map(ToString::to_string).collect(),
            device: device.map(str::to_owned),
            reason: case.reason.clone(),
        };
        bus.publish_control(&event).await?;
    }
    crate::audit::record(db, warning.by, "warn", &warning.shown, &format!("warning {count}; case #{}", case.id))
        .await?;
    let escalation = match ladder.at(count) {
        Some(rung) => Some(climb(db, bus, rung, &warning, count, case.id).await?),
        None => None,
    };
    Ok(Warned { case, count, escalation })
}

/// Apply a rung: the sanction as its own case, saying it came from the ladder.
async fn climb(
    db: &DatabaseConnection,
    bus: Option<&dyn bus::Bus>,
    rung: &Rung,
    warning: &NewWarning<'_>,
    count: u64,
    warned: i64,
) -> Result<cases::Model, BotError> {
    let reason = format!("{count} warnings (warning ladder; last: {})", warning.reason);
    let shown = Some(warning.shown.clone());
    let case = match rung.sanction {
        Sanction::Mute => {
            let mute = crate::mutes::NewMute {
                networks: warning.networks.clone(),
                tag: warning.tag,
                shown,
                reason: &reason,
                by: warning.by,
                duration: rung.duration,
                shadow: false,
                devices: warning.devices.clone(),
            };
            crate::mutes::impose(db, bus, mute).await?.case
        }
        Sanction::Ban => {
            let ban = crate::bans::NewBan {
                networks: warning.networks.clone(),
                tag: warning.tag,
                shown,
                reason: &reason,
                by: warning.by,
                duration: rung.duration,
                devices: warning.devices.clone(),
            };
            crate::bans::impose(db, bus, ban).await?.case
        }
    };
    let details = format!("{}; applied by the warning ladder after case #{warned}", case.details);
    crate::cases::amend(db, case.id, &case.target, &details).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ladders_parse_and_refuse_clearly() {
        let ladder = Ladder::parse(DEFAULT_LADDER).unwrap();
        assert_eq!(ladder.rungs.len(), 2);
        assert_eq!(
            ladder.at(2).map(|r| (r.sanction, r.duration)),
            Some((Sanction::Mute, Some(Duration::from_secs(600))))
        );
        assert_eq!(
            ladder.at(3).map(|r| (r.sanction, r.duration)),
            Some((Sanction::Ban, Some(Duration::from_secs(86_400))))
        );
        assert!(ladder.at(1).is_none());
        assert_eq!(Ladder::parse("5:ban, 1:mute:30s").unwrap().at(5).unwrap().duration, None);
        assert!(Ladder::parse("off").unwrap().rungs.is_empty());
        assert!(Ladder::parse("").unwrap().rungs.is_empty());
        for bad in ["2:kick:10m", "0:mute", "x:mute", "2:mute:soon", "2:mute,2:ban", "2:mute:1m:extra"] {
            assert!(Ladder::parse(bad).is_err(), "{bad}");
        }
        assert!(Ladder::parse("2:kick").unwrap_err().contains("mute or ban"));
    }
}
