//! A minimal tar writer.
