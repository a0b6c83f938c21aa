//! Company properties, variables, user values and property resolution (I13): the
//! account's company property, else the user's value, else the variable's default; a
//! variable's allowed values bound what a user may pick.
#![cfg(test)] // test code: unwrap is allowed here (clippy.toml)

#[path = "../common/mod.rs"]
mod common;
mod company;
mod resolution;
mod variables;

use common::calls;
use common::{failure, mask, start, start_standard, violations, with};
use tonic::Code;
use trellis_platform::auth::Role;
use trellis_proto::library::v1 as pb;
use trellis_testkit::tokens;
