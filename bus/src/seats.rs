//! Seats: who holds one, what a claim comes to, and the rules both buses apply. The in-process
//! bus calls [`judge_claim`] and [`slowmode_slots`]; the Redis bus runs the same rules inside its
//! scripts (`redis/lua/claim.lua`, `redis/lua/slowmode.lua`), where they are atomic across
//! gateways.

/// Who holds a seat: the member's nickname, the key it is compared by, an opaque holder id
/// (gateway + connection) so a late release never frees somebody else's seat, and an opaque tag
/// of the holder's address (a keyed hash of it, an IPv6 /64 as one address), by which seats per
/// address are counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seat {
    pub nick: String,
    pub key: String,
    pub holder: String,
    pub address: String,
}

/// Outcome of [`Bus::claim_seat`](crate::Bus::claim_seat).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeatClaim {
    /// The seat is yours; `members` are the room's nicknames, yours included.
    Granted { members: Vec<String> },
    /// The room is at capacity.
    Full,
    /// Somebody in the room already uses this nickname (compared by key).
    NickTaken,
    /// The seat's address already holds as many seats in the room as it may.
    TooManySeats,
}

/// Why the bus would not give back a seat it lost (see [`LostSeat`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeatLoss {
    /// The room filled up meanwhile.
    Full,
    /// Somebody else took the nickname meanwhile.
    NickTaken,
    /// The holder's address holds as many seats in the room as it may.
    TooManySeats,
}

/// A seat of this process that vanished from the bus (Redis lost its data, or the seat lapsed
/// while Redis was away) and could not be taken back: its holder has no seat any more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostSeat {
    pub room: protocol::RoomSlug,
    /// The nickname key.
    pub key: String,
    pub holder: String,
    pub why: SeatLoss,
}

/// What a claim of a seat among a room's live seats comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The same holder already sits there under this key: granted again, nothing to add.
    Seated,
    /// The seat is free to take.
    Take,
    /// Refused, with the reason ([`SeatClaim::Full`], [`SeatClaim::NickTaken`] or
    /// [`SeatClaim::TooManySeats`]).
    Refused(SeatClaim),
}

/// The rule of [`Bus::claim_seat`](crate::Bus::claim_seat): a nickname key held by another
/// holder is taken; otherwise a new seat needs room under `capacity` and fewer than
/// `per_address` seats already held from the seat's address.
pub(crate) fn judge_claim(seats: &[Seat], seat: &Seat, capacity: u32, per_address: u32) -> Verdict {
    if let Some(existing) = seats.iter().find(|s| s.key == seat.key) {
        return if existing.holder == seat.holder { Verdict::Seated } else { Verdict::Refused(SeatClaim::NickTaken) };
    }
    if seats.len() >= capacity as usize {
        return Verdict::Refused(SeatClaim::Full);
    }
    if held_from(seats, &seat.address) >= per_address as usize {
        return Verdict::Refused(SeatClaim::TooManySeats);
    }
    Verdict::Take
}

/// Messages one address may send per slowmode period in a room: one per seat it holds there,
/// at least one.
pub(crate) fn slowmode_slots(seats: &[Seat], address: &str) -> usize {
    held_from(seats, address).max(1)
}

/// Seats among `seats` held from `address`.
fn held_from(seats: &[Seat], address: &str) -> usize {
    seats.iter().filter(|s| s.address == address).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seat(key: &str, holder: &str, address: &str) -> Seat {
        Seat { nick: key.to_owned(), key: key.to_owned(), holder: holder.to_owned(), address: address.to_owned() }
    }

    #[test]
    fn claims_are_judged_by_key_then_capacity_then_address() {
        let seats = [seat("ann", "g1", "a"), seat("bob", "g2", "a")];
        assert_eq!(judge_claim(&seats, &seat("ann", "g1", "a"), 2, 2), Verdict::Seated, "again, even when full");
        assert_eq!(judge_claim(&seats, &seat("ann", "g9", "b"), 9, 9), Verdict::Refused(SeatClaim::NickTaken));
        assert_eq!(judge_claim(&seats, &seat("cy", "g3", "b"), 2, 9), Verdict::Refused(SeatClaim::Full));
        assert_eq!(judge_claim(&seats, &seat("cy", "g3", "a"), 9, 2), Verdict::Refused(SeatClaim::TooManySeats));
        assert_eq!(judge_claim(&seats, &seat("cy", "g3", "b"), 9, 2), Verdict::Take);
    }

    #[test]
    fn an_address_gets_a_slowmode_slot_per_seat_and_at_least_one() {
        let seats = [seat("ann", "g1", "a"), seat("bob", "g2", "a"), seat("cy", "g3", "b")];
        assert_eq!(slowmode_slots(&seats, "a"), 2);
        assert_eq!(slowmode_slots(&seats, "b"), 1);
        assert_eq!(slowmode_slots(&seats, "z"), 1);
        assert_eq!(slowmode_slots(&[], "a"), 1);
    }
}
