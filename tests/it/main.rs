//! Integration tests: the real application on port 0, real WebSocket clients, a real database
//! (SQLite by default, PostgreSQL where a test says so).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cluster;
mod redis_server;
mod support;

mod abuse;
mod appeals;
mod backlog;
mod chat;
mod conversation;
mod discord;
mod errors;
mod faults;
mod lifecycle;
mod moderation;
mod online;
mod reactions;
mod redis_loss;
mod reports;
mod resume;
mod retention;
mod rooms;
mod roulette;
mod sanctions;
mod shield;
mod split;
mod staff;
mod status;
mod visitor_rooms;
