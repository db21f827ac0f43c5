//! The Gateway WebSocket: HELLO, heartbeats, IDENTIFY → READY + GUILD_CREATE, RESUME with
//! replay, INVALID_SESSION, Discord's close codes. JSON text frames only (no zlib, no ETF).

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use salvo::prelude::*;
use salvo::websocket::{Message, WebSocket, WebSocketUpgrade};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::config::PRIVILEGED_INTENTS;
use crate::state::{ConnEntry, Inner, Outbound, Session, Shared};
use crate::wire::{intents, sid};

/// The salvo handler upgrading `/gateway-ws` (any query: `?v=10&encoding=json`).
pub struct GatewayUpgrade(pub Arc<Shared>);

#[async_trait]
impl Handler for GatewayUpgrade {
    async fn handle(&self, req: &mut Request, _depot: &mut Depot, res: &mut Response, _ctrl: &mut FlowCtrl) {
        let shared = self.0.clone();
        if let Err(error) = WebSocketUpgrade::new().upgrade(req, res, move |socket| run(socket, shared)).await {
            res.render(error);
        }
    }
}

fn frame(op: u64, d: Value) -> String {
    json!({"op": op, "d": d, "s": null, "t": null}).to_string()
}

async fn run(socket: WebSocket, shared: Arc<Shared>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let conn = shared.with(|inner| {
        let id = inner.next_conn;
        inner.next_conn += 1;
        inner.conns.insert(id, ConnEntry { tx, session: None });
        id
    });
    let (mut sink, mut stream) = socket.split();
    let interval = u64::try_from(shared.config.heartbeat_interval.as_millis()).unwrap_or(41_250);
    let mut client_close = None;
    if sink.send(Message::text(frame(10, json!({"heartbeat_interval": interval})))).await.is_ok() {
        loop {
            tokio::select! {
                incoming = stream.next() => match incoming {
                    Some(Ok(message)) => {
                        if let Some((code, _)) = message.close_frame() {
                            client_close = Some(code);
                            break;
                        }
                        if message.is_close() {
                            break;
                        }
                        if message.is_text() {
                            let text = message.as_str().unwrap_or("").to_owned();
                            shared.with(|inner| inner.on_frame(conn, &text));
                        } else if message.is_binary() {
                            shared.with(|inner| inner.close(conn, 4002, "Error while decoding payload."));
                        }
                    }
                    Some(Err(error)) => {
                        tracing::debug!(conn, %error, "fake gateway: read failed");
                        break;
                    }
                    None => break,
                },
                outbound = rx.recv() => match outbound {
                    Some(Outbound::Text(text)) => {
                        if sink.send(Message::text(text)).await.is_err() {
                            break;
                        }
                    }
                    Some(Outbound::Close(code, reason)) => {
                        let _ = sink.send(Message::close_with(code, reason)).await;
                        break;
                    }
                    Some(Outbound::Drop) | None => break,
                },
            }
        }
    }
    shared.with(|inner| inner.disconnect(conn, client_close));
}

impl Inner {
    fn send_to(&self, conn: u64, outbound: Outbound) {
        if let Some(entry) = self.conns.get(&conn) {
            let _ = entry.tx.send(outbound);
        }
    }

    fn close(&self, conn: u64, code: u16, reason: &str) {
        self.send_to(conn, Outbound::Close(code, reason.to_owned()));
    }

    fn on_frame(&mut self, conn: u64, text: &str) {
        let Ok(payload) = serde_json::from_str::<Value>(text) else {
            return self.close(conn, 4002, "Error while decoding payload.");
        };
        let identified = self.conns.get(&conn).is_some_and(|c| c.session.is_some());
        match payload.get("op").and_then(Value::as_u64) {
            Some(1) => self.send_to(conn, Outbound::Text(frame(11, Value::Null))),
            Some(2) => self.identify(conn, &payload["d"]),
            Some(6) => self.resume(conn, &payload["d"]),
            // Presence, voice state, request guild members, request soundboard sounds: accepted,
            // not modelled.
            Some(3 | 4 | 8 | 31) if identified => {}
            Some(3 | 4 | 8 | 31) => self.close(conn, 4003, "Not authenticated."),
            _ => self.close(conn, 4001, "Unknown opcode."),
        }
    }

    fn token_ok(&self, token: Option<&str>) -> bool {
        let token = token.unwrap_or("");
        token.strip_prefix("Bot ").unwrap_or(token) == self.config.token
    }

    fn identify(&mut self, conn: u64, d: &Value) {
        if self.conns.get(&conn).is_some_and(|c| c.session.is_some()) {
            return self.close(conn, 4005, "Already authenticated.");
        }
        if !self.token_ok(d.get("token").and_then(Value::as_str)) {
            return self.close(conn, 4004, "Authentication failed.");
        }
        let Some(wanted) = d.get("intents").and_then(Value::as_u64) else {
            return self.close(conn, 4013, "Invalid intent(s).");
        };
        if wanted & PRIVILEGED_INTENTS & !self.config.allowed_privileged_intents != 0 {
            return self.close(conn, 4014, "Disallowed intent(s).");
        }
        let shard = d.get("shard").and_then(Value::as_array);
        let (index, count) = match shard.map(|s| (s.first().and_then(Value::as_u64), s.get(1).and_then(Value::as_u64)))
        {
            None => (0, 1),
            Some((Some(index), Some(count))) if count > 0 && index < count => (index, count),
            Some(_) => return self.close(conn, 4010, "Invalid shard."),
        };
        let on_shard = (self.guild_id() >> 22) % count == index;
        let session_id = ulid::Ulid::new().to_string().to_lowercase();
        self.identifies += 1;
        self.sessions.insert(
            session_id.clone(),
            Session {
                id: session_id.clone(),
                seq: 0,
                intents: wanted,
                events: Default::default(),
                conn: Some(conn),
                invalidated: false,
            },
        );
        if let Some(entry) = self.conns.get_mut(&conn) {
            entry.session = Some(session_id.clone());
        }
        let guilds: Vec<Value> =
            if on_shard { vec![json!({"id": sid(self.guild_id()), "unavailable": true})] } else { Vec::new() };
        let ready = json!({
            "v": 10,
            "user": self.bot_user_json(),
            "user_settings": {},
            "guilds": guilds,
            "guild_join_requests": [],
            "relationships": [],
            "private_channels": [],
            "presences": [],
            "session_id": session_id,
            "session_type": "normal",
            "resume_gateway_url": self.ws_url,
            "shard": [index, count],
            "application": {"id": sid(self.config.application_id), "flags": self.application_flags()},
            "geo_ordered_rtc_regions": ["fake"],
            "auth": {},
            "_trace": ["[\"fake-discord\",{\"micros\":0}]"],
        });
        self.send_dispatch(&session_id, "READY", ready);
        if on_shard && wanted & intents::GUILDS != 0 {
            let guild = self.guild_json(true);
            self.send_dispatch(&session_id, "GUILD_CREATE", guild);
        }
    }

    fn resume(&mut self, conn: u64, d: &Value) {
        if !self.token_ok(d.get("token").and_then(Value::as_str)) {
            return self.close(conn, 4004, "Authentication failed.");
        }
        let session_id = d.get("session_id").and_then(Value::as_str).unwrap_or("").to_owned();
        let seq = d.get("seq").and_then(Value::as_u64).unwrap_or(0);
        let resumable = self.sessions.get(&session_id).is_some_and(|s| {
            let oldest_kept = s.events.front().map_or(s.seq + 1, |(first, _)| *first);
            !s.invalidated && seq <= s.seq && seq + 1 >= oldest_kept
        });
        if !resumable {
            self.sessions.remove(&session_id);
            return self.send_to(conn, Outbound::Text(frame(9, Value::Bool(false))));
        }
        let Some(session) = self.sessions.get_mut(&session_id) else { return };
        let previous = session.conn.replace(conn);
        let replay: Vec<String> = session.events.iter().filter(|(s, _)| *s > seq).map(|(_, f)| f.clone()).collect();
        if let Some(old) = previous.filter(|old| *old != conn) {
            if let Some(entry) = self.conns.get_mut(&old) {
                entry.session = None;
            }
            self.send_to(old, Outbound::Drop);
        }
        if let Some(entry) = self.conns.get_mut(&conn) {
            entry.session = Some(session_id.clone());
        }
        for text in replay {
            self.send_to(conn, Outbound::Text(text));
        }
        self.resumes += 1;
        self.send_dispatch(&session_id, "RESUMED", json!({"_trace": ["[\"fake-discord\",{\"micros\":0}]"]}));
    }

    /// A connection ended. Its session waits for RESUME unless the client closed with 1000 or
    /// 1001 (as on Discord, that ends the session) or it had been invalidated.
    fn disconnect(&mut self, conn: u64, client_close: Option<u16>) {
        let Some(entry) = self.conns.remove(&conn) else { return };
        let Some(session_id) = entry.session else { return };
        let ends = matches!(client_close, Some(1000 | 1001));
        if let Some(session) = self.sessions.get_mut(&session_id)
            && session.conn == Some(conn)
        {
            session.conn = None;
            if ends || session.invalidated {
                self.sessions.remove(&session_id);
            }
        }
    }

    /// Mark every session invalid: the next RESUME gets INVALID_SESSION (`d: false`).
    pub fn invalidate_sessions(&mut self) {
        for session in self.sessions.values_mut() {
            session.invalidated = true;
        }
        self.sessions.retain(|_, s| s.conn.is_some());
    }
}
