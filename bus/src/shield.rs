//! What every gateway's proof-of-work gate (issue 27, "shield") shares through the bus: the
//! mode staff set, the challenge solutions already spent, the join rate summed across gateways,
//! and the deployment key every gateway signs and checks challenges with.

use serde::{Deserialize, Serialize};

/// How the gate decides whether a visitor must solve a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShieldMode {
    /// On for everyone while the join rate is high, and for an address that misbehaves.
    Auto,
    /// On for everyone.
    On,
    /// Off for everyone.
    Off,
}

impl ShieldMode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::On => "on",
            Self::Off => "off",
        }
    }
}

impl std::str::FromStr for ShieldMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" => Ok(Self::Auto),
            "on" => Ok(Self::On),
            "off" => Ok(Self::Off),
            other => Err(format!("must be auto, on or off, not {other:?}")),
        }
    }
}

impl std::fmt::Display for ShieldMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The gate's mode as staff set it (`/shield`, `chatroulette shield`); it overrides each
/// gateway's `SHIELD_MODE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShieldSetting {
    pub mode: ShieldMode,
    /// A fixed difficulty step (1 to [`SHIELD_STEPS`]); `None` = it follows the load.
    #[serde(default)]
    pub difficulty: Option<u8>,
}

/// How many difficulty steps there are.
pub const SHIELD_STEPS: u8 = 4;

/// The most challenge solutions the in-process bus remembers as spent at once; beyond it, a
/// solution is refused as if spent (honest visitors never come near: a million solved
/// challenges within one challenge's lifetime).
pub const SPENT_MAX: usize = 1_000_000;
