//! The rules as plain Rust, testable without gRPC or a database: families (I1), plans and
//! their warnings (I8), links and statuses (I9–I11), the drift report.

pub mod asset;
pub mod drift;
pub mod family;
pub mod import;
pub mod link;
pub mod plan;
pub mod spec;
pub mod status;
