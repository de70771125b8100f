//! Documentation types for JSON request bodies: what each route accepts, as its
//! validation (in domain/ and services/) enforces it. Handlers still read bodies field by
//! field so that errors can name the field; these types only feed `/openapi.json`, the
//! generated clients and the Postman collection's example bodies.

pub mod billing;
pub mod calendar;
pub mod calls;
pub mod care;
pub mod common;
pub mod messaging;
pub mod providers;
pub mod records;
pub mod tasks;
