//! Input rules, enforced once at the boundary by parsing into newtypes, so the rest of the code
//! never sees unchecked strings.
//!
//! * `clean`: text cleaning every message and title goes through (controls, invisible and
//!   reordering characters out; emoji and the joiners scripts need kept);
//! * `compare`: case folding, the confusable key nicknames are compared by, reserved names;
//! * `nickname`: [`Nickname`] and its rules;
//! * `message`: [`MessageText`];
//! * `room`: [`RoomSlug`] and a visitor room's [`RoomTitle`];
//! * `interests`: roulette interest tags ([`parse_interests`]).
//!
//! Everything public is re-exported here: callers write `protocol::input::clean_text`.

mod clean;
mod compare;
mod interests;
mod message;
mod nickname;
mod room;

pub use clean::{clean_text, is_default_ignorable, strip_invisible};
pub use compare::{fold, nick_key};
pub use interests::{INTEREST_MAX_CHARS, INTERESTS_MAX, InterestError, parse_interests};
pub use message::{MESSAGE_MAX, MessageText, TextError};
pub use nickname::{NICK_MAX, NICK_MIN, NickError, Nickname};
pub use room::{RoomSlug, RoomTitle, SLUG_MAX, SLUG_MIN, SlugError, TITLE_MAX, TitleError};
