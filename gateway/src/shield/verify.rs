//! Checking a solution (`/ws?pow=`): base64 of the JSON `{algorithm, challenge, number, salt,
//! signature}` (ALTCHA's v1 payload). It must be signed with the shield's key, solve its
//! challenge, not have expired, and be bound to the caller's address; that it opens one upgrade
//! only is the bus's part (`Bus::spend_challenge`, in `gate`).

use std::time::Duration;

use base64::Engine;
use serde::Deserialize;

use super::challenge::{ALGORITHM, digest};
use super::key::ShieldKey;
use crate::address::AddressKey;

/// Longest `pow` parameter read (a real one is about 300 characters).
pub(crate) const MAX_SOLUTION_CHARS: usize = 2048;

/// Why a solution was refused (`challenge_failed`); the text is the refusal's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Failure {
    #[error("the solution cannot be read; ask GET /api/challenge for a new challenge")]
    Malformed,
    #[error("this challenge was not issued by this chat")]
    Forged,
    #[error("the number does not solve the challenge")]
    Wrong,
    #[error("the challenge expired; ask GET /api/challenge for a new one")]
    Expired,
    #[error("the challenge was issued to another address; ask GET /api/challenge for a new one")]
    OtherAddress,
    #[error("this solution was used already: a solution opens one connection")]
    Spent,
}

/// A solution that may be spent: its signature (its name on the bus) and what is left of its
/// challenge's life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    pub signature: String,
    pub remaining: Duration,
}

#[derive(Deserialize)]
struct Payload {
    algorithm: String,
    challenge: String,
    number: u64,
    salt: String,
    signature: String,
}

/// Check the raw `pow` parameter (already percent-decoded) for a caller at `address` at `now`
/// (Unix seconds).
pub(crate) fn verify(key: &ShieldKey, raw: &str, address: AddressKey, now: u64) -> Result<Verified, Failure> {
    if raw.len() > MAX_SOLUTION_CHARS {
        return Err(Failure::Malformed);
    }
    // A `+` the client left unescaped arrives as a space.
    let raw = raw.trim().replace(' ', "+");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(&raw)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw.trim_end_matches('=')))
        .map_err(|_| Failure::Malformed)?;
    let payload: Payload = serde_json::from_slice(&bytes).map_err(|_| Failure::Malformed)?;
    if payload.algorithm != ALGORITHM || payload.challenge.len() != 64 {
        return Err(Failure::Malformed);
    }
    if !key.signed(&payload.challenge, &payload.signature) {
        return Err(Failure::Forged);
    }
    if digest(&payload.salt, payload.number) != payload.challenge {
        return Err(Failure::Wrong);
    }
    let params = salt_params(&payload.salt).ok_or(Failure::Malformed)?;
    if params.expires <= now {
        return Err(Failure::Expired);
    }
    if params.addr != key.address_tag(address) {
        return Err(Failure::OtherAddress);
    }
    Ok(Verified { signature: payload.signature, remaining: Duration::from_secs(params.expires - now) })
}

struct SaltParams<'a> {
    expires: u64,
    addr: &'a str,
}

/// `expires` and `addr` of a salt `<nonce>?expires=…&addr=…&`; `None` unless it ends with `&`.
fn salt_params(salt: &str) -> Option<SaltParams<'_>> {
    let query = salt.strip_suffix('&')?.split_once('?')?.1;
    let (mut expires, mut addr) = (None, None);
    for pair in query.split('&') {
        match pair.split_once('=')? {
            ("expires", v) => expires = v.parse().ok(),
            ("addr", v) => addr = Some(v),
            _ => {}
        }
    }
    Some(SaltParams { expires: expires?, addr: addr? })
}

#[cfg(test)]
mod tests {
    use super::super::challenge::{issue, solve};
    use super::*;

    fn encode(c: &super::super::challenge::Challenge, number: u64) -> String {
        let json = serde_json::json!({
            "algorithm": c.algorithm, "challenge": c.challenge, "number": number,
            "salt": c.salt, "signature": c.signature,
        });
        base64::engine::general_purpose::STANDARD.encode(json.to_string())
    }

    #[test]
    fn only_a_fresh_signed_solution_for_this_address_passes() {
        let key = ShieldKey::derive("k");
        let here = AddressKey::of("203.0.113.7".parse().unwrap());
        let c = issue(&key, here, 300, Duration::from_secs(60), 1_000);
        let n = solve(&c.salt, &c.challenge, c.maxnumber).unwrap();
        let good = encode(&c, n);
        let ok = verify(&key, &good, here, 1_010).unwrap();
        assert_eq!((ok.signature.as_str(), ok.remaining), (c.signature.as_str(), Duration::from_secs(50)));
        assert_eq!(verify(&key, &good.replace('+', " "), here, 1_010).map(|_| ()), Ok(()));
        assert_eq!(verify(&key, &encode(&c, n + 1), here, 1_010), Err(Failure::Wrong));
        assert_eq!(verify(&key, &good, here, 1_060), Err(Failure::Expired));
        let elsewhere = AddressKey::of("203.0.113.8".parse().unwrap());
        assert_eq!(verify(&key, &good, elsewhere, 1_010), Err(Failure::OtherAddress));
        assert_eq!(verify(&ShieldKey::derive("other"), &good, here, 1_010), Err(Failure::Forged));
        assert_eq!(verify(&key, "not base64!", here, 1_010), Err(Failure::Malformed));
    }

    #[test]
    fn digits_of_the_number_cannot_be_spliced_into_the_salt() {
        let key = ShieldKey::derive("k");
        let here = AddressKey::of("203.0.113.7".parse().unwrap());
        let salt = format!("00ff?expires=1060&addr={}&", key.address_tag(here));
        let challenge = digest(&salt, 12_345);
        let signature = key.sign(&challenge);
        let c =
            super::super::challenge::Challenge { algorithm: ALGORITHM, challenge, maxnumber: 20_000, salt, signature };
        assert!(verify(&key, &encode(&c, 12_345), here, 1_010).is_ok());
        // The same bytes hashed, with the number's first digit moved to the salt's end.
        let spliced = super::super::challenge::Challenge { salt: format!("{}1", c.salt), ..c.clone() };
        assert_eq!(verify(&key, &encode(&spliced, 2_345), here, 1_010), Err(Failure::Malformed));
    }
}
