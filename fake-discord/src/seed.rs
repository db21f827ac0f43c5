//! Seeding the guild as its admins would in the Discord client: members, roles, permission
//! overwrites, channels.

use serde_json::{Value, json};

use crate::config::FakeUser;
use crate::server::FakeDiscord;
use crate::state::Inner;
use crate::wire::perms;

impl FakeDiscord {
    /// A new guild member with a fresh id and the given roles (dispatches GUILD_MEMBER_ADD).
    pub fn add_user(&self, username: &str, roles: &[u64]) -> FakeUser {
        self.shared.with(|inner| {
            let id = inner.next_id();
            let user = FakeUser { roles: roles.to_vec(), ..FakeUser::new(id, username) };
            inner.add_member(user)
        })
    }

    /// Add (or replace) a member as given.
    pub fn add_member(&self, user: FakeUser) -> FakeUser {
        self.shared.with(|inner| inner.add_member(user))
    }

    /// A new member with the Moderator role (`staff-1`, `staff-2`, …).
    pub fn staff_user(&self) -> FakeUser {
        self.shared.with(Inner::new_staff)
    }

    /// A member's guild permissions from its roles (see [`perms`]).
    pub fn permissions_of(&self, user_id: u64) -> u64 {
        self.shared.read(|inner| inner.permissions_of(user_id))
    }

    /// A member's permissions in a channel (a thread: its parent's), overwrites applied, as
    /// Discord computes them for an interaction's `member.permissions`.
    pub fn permissions_in(&self, user_id: u64, channel_id: u64) -> u64 {
        self.shared.read(|inner| inner.permissions_in(user_id, channel_id))
    }

    /// Whether a member who has only the @everyone role could see the channel.
    pub fn everyone_can_view(&self, channel_id: u64) -> bool {
        self.shared.read(|inner| {
            let nobody = inner.next_free_id();
            inner.permissions_in(nobody, channel_id) & perms::VIEW_CHANNEL != 0
        })
    }

    /// Add a role with these permissions (dispatches GUILD_ROLE_CREATE); its id. Give it to
    /// members with [`Self::add_user`].
    pub fn add_role(&self, name: &str, permissions: u64) -> u64 {
        self.shared.with(|inner| inner.add_role(name, permissions))
    }

    /// Change a role's permissions, as an admin would (dispatches GUILD_ROLE_UPDATE); false
    /// for an unknown role. E.g. take MANAGE_ROLES from the bot's role.
    pub fn set_role_permissions(&self, role_id: u64, permissions: u64) -> bool {
        self.shared.with(|inner| inner.set_role_permissions(role_id, permissions))
    }

    /// The bot's managed role.
    pub fn bot_role_id(&self) -> u64 {
        self.shared.read(|inner| inner.bot_role)
    }

    /// Set (or with `None` remove) a permission overwrite as an admin would in the client
    /// (dispatches CHANNEL_UPDATE). `kind` 0 = role, 1 = member.
    pub fn set_overwrite(&self, channel_id: u64, target: u64, overwrite: Option<(u64, u64, u64)>) {
        let body = overwrite
            .map(|(kind, allow, deny)| json!({"type": kind, "allow": allow.to_string(), "deny": deny.to_string()}));
        self.shared.with(|inner| {
            let _ = inner.set_overwrite(channel_id, target, body.as_ref());
        });
    }

    /// The reactions on a stored message (`[{count, me, emoji: {name}}…]`).
    pub fn reactions_on(&self, channel_id: u64, message_id: u64) -> Vec<Value> {
        self.message(channel_id, message_id).and_then(|m| m["reactions"].as_array().cloned()).unwrap_or_default()
    }

    /// Create a guild channel as an admin would in the client (dispatches CHANNEL_CREATE).
    /// `kind` is a [`channel_type`](crate::channel_type); names of text channels are normalised
    /// like Discord does.
    /// Returns the channel object, or the 400 error body when Discord would refuse.
    pub fn create_channel(&self, name: &str, kind: u64, parent_id: Option<u64>) -> Value {
        let body = json!({"name": name, "type": kind, "parent_id": parent_id.map(|p| p.to_string())});
        self.shared.with(|inner| match inner.create_channel(&body) {
            Ok((_, channel)) => channel,
            Err(error) => error.body,
        })
    }
}
