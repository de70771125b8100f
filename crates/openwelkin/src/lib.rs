//! openwelkin: a self-hostable server for the Welkin Health care-management REST API.
//!
//! Data flows one way: HTTP (`api`) → use cases (`services`) → persistence (`store`), with
//! the rules in `domain` and `auth`.
//! See ARCHITECTURE.md at the repository root for the rooms and how to add a resource.

pub mod api;
pub mod app;
pub mod auth;
pub mod cli;
pub mod clock;
pub mod console;
pub mod delivery;
pub mod demo;
pub mod designer;
pub mod domain;
pub mod emulator;
pub mod events;
pub mod files;
pub mod ids;
pub mod net;
pub mod postman;
pub mod provision;
pub mod services;
pub mod store;
pub mod telemetry;
pub mod time;
