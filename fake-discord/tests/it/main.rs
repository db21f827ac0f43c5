//! Integration tests: the real serenity 0.12.5 / poise 0.7.1 (and raw HTTP / WebSocket
//! clients) against the fake Discord.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod gateway_client;
mod gateway_raw;
mod outages;
mod permissions;
mod poise_bot;
mod rest_raw;
mod rest_serenity;
mod shapes;
mod threads;
